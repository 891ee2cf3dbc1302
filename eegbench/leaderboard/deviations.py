"""The "Recipes and declared deviations" section: how each model's recipe differs from its authors'.

Every model yaml (``conf/model/<name>.yaml``) may carry a ``deviations:`` list, one item per
remaining difference from the original authors' code or paper: ``what`` differs, the
``original`` setting, ``ours``, and the ``source`` it was read from. :func:`render_deviations`
turns those lists into Markdown, beside the settings the committed rows actually ran with
(read from each row's recorded configuration and budget, so the section says which rows
predate a recipe change). ``python -m eegbench.leaderboard.deviations`` writes
``leaderboard/deviations.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from eegbench.leaderboard.published import references_lines
from eegbench.resources import config_dir

logger = logging.getLogger(__name__)

#: Keys of one declared deviation.
DEVIATION_KEYS = ("what", "original", "ours", "source")
#: The foundation models, listed first (each must declare its deviations).
FOUNDATION_MODELS = ("cbramod", "cbramod_probe", "labram", "biot", "eegpt", "reve", "luna",
                     "codebrain", "eegdino", "bendr", "signal_jepa")


def load_deviations(path: Path) -> list[dict[str, str]]:
    """Return the ``deviations`` of one model yaml ([] when it declares none).

    Raises
    ------
    ValueError
        If an item is not a mapping with exactly the keys of :data:`DEVIATION_KEYS`, each a
        non-empty string.
    """
    entries = (yaml.safe_load(Path(path).read_text()) or {}).get("deviations") or []
    for i, item in enumerate(entries):
        keys = sorted(item) if isinstance(item, dict) else None
        if keys != sorted(DEVIATION_KEYS):
            raise ValueError(f"{path}: deviations[{i}] must have the keys "
                             f"{list(DEVIATION_KEYS)}, but has {keys}.")
        empty = [k for k in DEVIATION_KEYS if not str(item[k]).strip()]
        if empty:
            raise ValueError(f"{path}: deviations[{i}] ({item['what']!r}) has empty {empty}.")
    return [{k: str(item[k]) for k in DEVIATION_KEYS} for item in entries]


def model_deviations(conf: Path | None = None) -> dict[str, list[dict[str, str]]]:
    """Return ``{model yaml name: deviations}`` for every ``conf/model/*.yaml``."""
    folder = Path(conf or config_dir()) / "model"
    return {p.stem: load_deviations(p) for p in sorted(folder.glob("*.yaml"))}


def _head_binary(config: dict[str, Any]) -> str:
    head = ((config.get("model") or {}).get("params") or {}).get("head") or {}
    return str(head.get("binary", "two_logits")) if isinstance(head, dict) else "two_logits"


def _preprocess(config: dict[str, Any]) -> str:
    pre = config.get("preprocess") or {}
    band = (f"{pre.get('l_freq')}-{pre.get('h_freq')} Hz" if pre.get("l_freq") is not None
            or pre.get("h_freq") is not None else "no band-pass")
    return f"{band}, {pre.get('sfreq')} Hz"


def committed_settings(rows: Iterable[dict[str, Any]], models: Iterable[str]
                       ) -> list[dict[str, Any]]:
    """Summarise the settings the committed rows of ``models`` ran with.

    One entry per (model, adaptation, init) with the number of rows and, for each setting,
    the values found (with counts when they differ between rows).
    """
    wanted = set(models)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if row.get("model") not in wanted:
            continue
        config = row.get("config") or {}
        init = str(((config.get("model") or {}).get("params") or {}).get("init", "-"))
        groups[(row["model"], str(row.get("adaptation")), init)].append(row)
    return [{"model": model, "adaptation": adaptation, "init": init, "rows": len(members),
             **{column: _values(members, column) for column in SETTING_COLUMNS}}
            for (model, adaptation, init), members in sorted(groups.items())]


#: The per-row settings summarised for the committed rows.
SETTING_COLUMNS = ("checkpoint", "n_parameters", "preprocess", "max_epochs", "selection",
                   "label_smoothing", "class_weighting", "binary_head")
#: Recipe keys shown for the current configuration of each model (``model.recipe``).
RECIPE_COLUMNS = ("max_epochs", "select_on", "label_smoothing", "class_weighting")


def _setting(row: dict[str, Any], column: str) -> str:
    config = row.get("config") or {}
    if column == "preprocess":
        return _preprocess(config)
    if column == "binary_head":
        return _head_binary(config)
    if column == "checkpoint":
        return str(row.get("checkpoint") or "none")[:19]
    if column == "n_parameters":
        return str(row.get("n_parameters", "-"))
    return str((row.get("budget") or {}).get(column, "-"))


def _values(members: list[dict[str, Any]], column: str) -> str:
    """One value when every row agrees, else each value with its number of rows."""
    counts = Counter(_setting(r, column) for r in members)
    if len(counts) == 1:
        return next(iter(counts))
    return "; ".join(f"{v} ({n})" for v, n in sorted(counts.items()))


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _recipe_line(name: str, config: dict[str, Any]) -> str:
    recipe = config.get("recipe") or {}
    params = config.get("params") or {}
    head = params.get("head") if isinstance(params.get("head"), dict) else {}
    cells = [name, *(recipe.get(k, "-") for k in RECIPE_COLUMNS),
             head.get("binary", "two_logits"), params.get("arch_params") or "-"]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def model_configs(conf: Path | None = None) -> dict[str, dict[str, Any]]:
    """Return ``{model yaml name: its yaml}`` (without Hydra composition)."""
    folder = Path(conf or config_dir()) / "model"
    raw = {p.stem: yaml.safe_load(p.read_text()) or {} for p in sorted(folder.glob("*.yaml"))}
    return {name: _with_parents(name, raw) for name in raw}


def _with_parents(name: str, raw: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Merge a yaml over the model yamls its ``defaults`` list names (params key by key)."""
    config = raw[name]
    merged: dict[str, Any] = {}
    for parent in config.get("defaults") or []:
        if isinstance(parent, str) and parent != "_self_" and parent in raw and parent != name:
            merged = _merge(merged, _with_parents(parent, raw))
    return _merge(merged, config)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = ({**out[key], **value} if isinstance(value, dict)
                    and isinstance(out.get(key), dict) else value)
    return out


def render_deviations(rows: Iterable[dict[str, Any]],
                      deviations: dict[str, list[dict[str, str]]],
                      recipes: dict[str, dict[str, Any]] | None = None) -> str:
    """Return the Markdown section: committed-row settings, current recipes, deviations."""
    rows = list(rows)
    recipes = recipes or {}
    ordered = [m for m in FOUNDATION_MODELS if m in deviations] + sorted(
        m for m in deviations if m not in FOUNDATION_MODELS and deviations[m])
    lines = [
        "# Recipes and declared deviations",
        "",
        "Each model's recipe follows its authors' code where eegbench can; what still differs "
        "is declared in its yaml (`conf/model/<name>.yaml`, key `deviations`: what, the "
        "original setting, ours, and the source it was read from). The committed rows keep "
        "the configuration they were run with, recorded in each row of "
        "`leaderboard/rows.jsonl`; the first table lists it, so rows that predate a recipe "
        "change are visible. Regenerate with `python -m eegbench.leaderboard.deviations`.",
        "",
        "## Settings of the committed rows",
        "",
        "| model | adaptation | init | rows | checkpoint | parameters | preprocessing "
        "| max epochs | selection | label smoothing | class weighting | binary head |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    names = {m.removesuffix("_probe") for m in ordered}
    for s in committed_settings(rows, names | {"eegnet"}):
        lines.append("| " + " | ".join(_cell(s[k]) for k in (
            "model", "adaptation", "init", "rows", *SETTING_COLUMNS)) + " |")
    lines += ["", "Linear-probe rows (`linear_probe`) fit a logistic regression on frozen "
              "features: epochs, selection, smoothing and class weighting do not apply "
              "(`-`), and neither do the recipe and the binary head below.", "",
              "## Current recipes (`conf/model/<name>.yaml`, key `recipe`)", "",
              "What a new run uses unless the `trainer` group overrides it (`-`: eegbench's "
              "default, `eegbench.training.loop.TrainerSpec`).", "",
              "| model | max epochs | selection | label smoothing | class weighting "
              "| binary head | architecture overrides |",
              "|---|---|---|---|---|---|---|"]
    lines += [_recipe_line(name, config) for name, config in recipes.items()
              if name in ordered]
    lines.append("")
    lines += ["## Published eegmat figures (`eegbench/leaderboard/published.yaml`)", "",
              "Every published figure for eegmat that this suite lists, with its paper, table, "
              "split and metric. `verified: yes` means the number was read in the source "
              "document itself (column `how`); `no` means it was not and is indicative only. "
              "Only figures on the same test subjects (`fixed_split`: subjects 32-35) are "
              "placed beside our fixed-split rows; the splits, preprocessing and budgets of "
              "these papers differ from ours and from each other.", ""]
    lines += references_lines("physionet_eegmat") + [""]
    for model in ordered:
        items = deviations[model]
        lines += [f"## {model} (`conf/model/{model}.yaml`)", ""]
        if not items:
            lines += ["No deviation declared.", ""]
            continue
        lines += ["| what | original | ours | source |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(_cell(d[k]) for k in DEVIATION_KEYS) + " |" for d in items]
        lines.append("")
    return "\n".join(lines)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Read a ``rows.jsonl`` file (one JSON row per line)."""
    with Path(path).open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


def main(argv: list[str] | None = None) -> None:
    """Write ``leaderboard/deviations.md`` from the rows and the model yamls."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=Path("leaderboard/rows.jsonl"))
    parser.add_argument("--conf", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("leaderboard/deviations.md"))
    args = parser.parse_args(argv)
    text = render_deviations(read_rows(args.rows), model_deviations(args.conf),
                             model_configs(args.conf))
    args.out.write_text(text + "\n")
    logger.info("wrote %s", args.out)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    main()
