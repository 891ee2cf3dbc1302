"""Sphinx directives that write the model tables from the registry at build time.

``{eegbench-models}`` lists every model registered in :data:`eegbench.models.MODELS`
(built-ins and installed plugins) with its family, the reference its docstring names, the
module that implements it, its default adaptation (``conf/model/<name>.yaml``), the
adaptations it accepts and the parameter counts found in the committed leaderboard rows.
``{braindecode-zoo}`` inserts the table of every braindecode architecture that
``python -m eegbench.models list`` prints (:func:`eegbench.models.__main__.zoo_table`),
``{known-checkpoints}`` the registry of ``python -m eegbench.models checkpoints``, and
``{dataset-recipes}`` one line per shipped recipe (``data_recipes/*.yaml``) with the dataset
configs (``conf/dataset/*.yaml``) that use it; nothing here reads recordings.

Both directives generate Markdown and parse it in place, so they are meant for MyST pages.
"""

from __future__ import annotations

import inspect
import json
import logging
import warnings
from collections import defaultdict
from pathlib import Path

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_ROWS = ROOT / "leaderboard" / "rows.jsonl"
MODEL_CONFIGS = ROOT / "conf" / "model"
DATASET_CONFIGS = ROOT / "conf" / "dataset"
RECIPES = ROOT / "data_recipes"


def _fmt_count(n: int) -> str:
    return f"{n / 1e6:.2f} M" if n >= 1e6 else (f"{n / 1e3:.1f} k" if n >= 1e3 else str(n))


def shipped_parameter_counts(path: Path = SHIPPED_ROWS) -> dict[str, dict[str, set[int]]]:
    """Return ``{model: {dataset: {n_parameters, ...}}}`` from the committed result rows."""
    counts: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    if not path.is_file():
        return counts
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if str(row.get("adaptation", "")).startswith("layer_probe:"):
            continue
        if row.get("n_parameters"):
            counts[row["model"]][row["dataset"]].add(int(row["n_parameters"]))
    return counts


def default_adaptation(name: str) -> str:
    """Return the ``adaptation`` of ``conf/model/<name>.yaml`` (``from_scratch`` if unset)."""
    path = MODEL_CONFIGS / f"{name}.yaml"
    if not path.is_file():
        return "from_scratch"
    return str((yaml.safe_load(path.read_text()) or {}).get("adaptation", "from_scratch"))


def _summary_line(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    line = doc.strip().splitlines()[0] if doc.strip() else ""
    return line.replace("|", "\\|")


def eegbench_models_markdown() -> str:
    """Return the Markdown table of every registered eegbench model."""
    from eegbench.adaptation.registry import adaptation_names
    from eegbench.models.base import MODELS, build_model, load_builtin_models
    from eegbench.models.torch_model import TorchBenchmarkModel

    load_builtin_models()
    torch_adaptations = adaptation_names()
    params = shipped_parameter_counts()
    lines = ["| model | family | what it is | adaptation: default (accepted) | "
             "parameters in the committed rows | implemented in |",
             "|---|---|---|---|---|---|"]
    for name in MODELS.names():
        if name.startswith("braindecode."):
            continue  # every braindecode class, listed in the next table
        factory = MODELS.get(name)
        module = inspect.getmodule(factory)
        where = f"{{py:mod}}`{module.__name__}`" if module else "?"
        if MODELS.origin(name) != "built-in":
            where += f" ({MODELS.origin(name)})"
        if name == "braindecode":
            family, accepted = "any braindecode architecture", "all (torch)"
        else:
            model = build_model(name)
            family = model.family
            accepted = (f"all {len(torch_adaptations)} (torch)"
                        if isinstance(model, TorchBenchmarkModel) else "fitted pipeline")
        counts = "; ".join(
            f"{dataset}: {', '.join(_fmt_count(n) for n in sorted(values))}"
            for dataset, values in sorted(params.get(name, {}).items())) or "-"
        lines.append(f"| `{name}` | {family} | {_summary_line(factory)} | "
                     f"`{default_adaptation(name)}` ({accepted}) | {counts} | {where} |")
    return "\n".join(lines)


def braindecode_zoo_markdown() -> str:
    """Return the braindecode table of ``python -m eegbench.models list``."""
    import mne

    from eegbench.models.__main__ import zoo_table

    mne.set_log_level("WARNING")  # braindecode's interpolated models print MNE info lines
    return zoo_table()


def known_checkpoints_markdown() -> str:
    """Return the known-checkpoints table of ``python -m eegbench.models checkpoints``."""
    from eegbench.models.__main__ import checkpoint_table

    return checkpoint_table()


def _cell(value: object) -> str:
    return " ".join(str(value).split()).replace("|", "\\|")


def dataset_recipes_markdown() -> str:
    """Return one Markdown line per shipped recipe, with the dataset configs that use it."""
    configs: dict[str, list[str]] = defaultdict(list)
    moabb = []
    for path in sorted(DATASET_CONFIGS.glob("*.yaml")):
        cfg = yaml.safe_load(path.read_text()) or {}
        if cfg.get("moabb"):
            moabb.append(f"`{path.stem}` ({cfg['moabb'].get('dataset')} + "
                         f"{cfg['moabb'].get('paradigm')})")
        elif cfg.get("recipe"):
            configs[str(cfg["recipe"])].append(f"`dataset={path.stem}`")
    lines = ["| recipe | dataset | paradigm | modality | reader | classes | primary metric | "
             "licence | configs |", "|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(RECIPES.glob("*.yaml")):
        recipe = yaml.safe_load(path.read_text()) or {}
        classes = ", ".join(str(c) for c in (recipe.get("labels") or {}).get("classes", []))
        lines.append(
            f"| `{recipe.get('name', path.stem)}` | {_cell(recipe.get('title', ''))} | "
            f"{_cell(recipe.get('paradigm', ''))} | {_cell(recipe.get('modality', ''))} | "
            f"{_cell((recipe.get('source') or {}).get('reader', ''))} | {_cell(classes)} | "
            f"{_cell(recipe.get('primary_metric', 'balanced_accuracy'))} | "
            f"{_cell(recipe.get('licence', ''))} | "
            f"{', '.join(configs.get(recipe.get('name', path.stem), [])) or '-'} |")
    if moabb:
        lines += ["", "MOABB dataset configs (no recipe; the MOABB dataset and paradigm "
                  "define the windows): " + ", ".join(moabb) + "."]
    return "\n".join(lines)


class _MarkdownTable(SphinxDirective):
    """Parse the Markdown a function returns in place of the directive."""

    has_content = False
    make_markdown = staticmethod(lambda: "")

    def run(self) -> list[nodes.Node]:
        with warnings.catch_warnings():  # library warnings of model constructors
            warnings.simplefilter("ignore")
            logging.getLogger("eegbench").setLevel(logging.ERROR)
            text = self.make_markdown()
        container = nodes.container(classes=["eegbench-generated-table"])
        self.state.nested_parse(StringList(text.splitlines(), source="generated"),
                                self.content_offset, container)
        return [container]


class EegbenchModels(_MarkdownTable):
    """``{eegbench-models}``: the registry's models."""

    make_markdown = staticmethod(eegbench_models_markdown)


class BraindecodeZoo(_MarkdownTable):
    """``{braindecode-zoo}``: every braindecode architecture."""

    make_markdown = staticmethod(braindecode_zoo_markdown)


class KnownCheckpoints(_MarkdownTable):
    """``{known-checkpoints}``: the known pretrained checkpoints."""

    make_markdown = staticmethod(known_checkpoints_markdown)


class DatasetRecipes(_MarkdownTable):
    """``{dataset-recipes}``: the shipped recipes and dataset configs."""

    make_markdown = staticmethod(dataset_recipes_markdown)


def setup(app):
    """Register the directives."""
    app.add_directive("eegbench-models", EegbenchModels)
    app.add_directive("braindecode-zoo", BraindecodeZoo)
    app.add_directive("known-checkpoints", KnownCheckpoints)
    app.add_directive("dataset-recipes", DatasetRecipes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
