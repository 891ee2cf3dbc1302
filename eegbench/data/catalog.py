"""The dataset catalogue: what each recipe holds, what is on disk and what is cached."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from eegbench.data.recipe import Recipe, RecipeError, load_recipe
from eegbench.data.subjects import pinned_groups
from eegbench.resources import recipes_dir

logger = logging.getLogger(__name__)

#: How a count that is not known here is shown (MOABB datasets), never as 0.
UNKNOWN = "unknown"


@dataclass(frozen=True)
class CatalogEntry:
    """One row of ``python -m eegbench.data list``; ``None`` where a count is not known here.

    MOABB datasets are described from their config alone (MOABB knows their subjects,
    channels and rate), so those counts are ``None`` and shown as "unknown", never 0.
    """

    name: str
    paradigm: str
    modality: str
    subjects: int | None
    sessions: int | None
    files: int | None
    channels: int | None
    sfreq: float | None
    classes: str
    licence: str
    quality: str
    local: str
    cache: str


def _local_state(recipe: Recipe, data_root: Path) -> tuple[str, list[dict[str, str]]]:
    try:
        found = recipe.discover(data_root)
    except FileNotFoundError:
        return "absent", []
    except RecipeError as err:
        return f"error: {str(err).splitlines()[0][:60]}", []
    pinned = len(pinned_groups(recipe))
    return f"{len(found)}/{pinned} files", [s.groups for s in found]


def _cache_state(recipe: Recipe, cache_root: Path | None) -> str:
    if cache_root is None:
        return "-"
    from eegbench.data.cache import entry_problem

    folder = Path(cache_root) / recipe.name
    entries = [p for p in folder.glob("*") if p.is_dir() and not p.name.startswith(".")] \
        if folder.is_dir() else []
    if recipe.task is not None:  # the tasks of a recipe share its cache folder
        entries = [e for e in entries if _entry_task(e) == recipe.task]
    valid = [e for e in entries if entry_problem(e, verify="size") is None]
    if not entries:
        return "not cached"
    return f"{len(valid)} valid entr{'y' if len(valid) == 1 else 'ies'}" + (
        f", {len(entries) - len(valid)} partial/corrupt" if len(valid) < len(entries) else "")


def _entry_task(entry: Path) -> str | None:
    try:
        return json.loads((entry / "manifest.json").read_text()).get("task")
    except (OSError, ValueError, AttributeError):
        return None


def catalog(data_root: Path, cache_root: Path | None = None) -> list[CatalogEntry]:
    """Describe every shipped recipe.

    Subjects and sessions come from the local files when present, else from the recipe's
    pinned file list.
    """
    rows = []
    for path in sorted(recipes_dir().glob("*.yaml")):
        base = load_recipe(path)
        for task in base.task_names or [None]:  # one row per task of a multi-task recipe
            rows.append(_entry(base.for_task(task), data_root, cache_root))
    return rows


def _entry(recipe: Recipe, data_root: Path, cache_root: Path | None) -> CatalogEntry:
    """The catalogue row of one recipe (resolved for one task if it has several)."""
    local, groups = _local_state(recipe, Path(data_root))
    groups = groups or pinned_groups(recipe)
    return CatalogEntry(
        name=recipe.name if recipe.task is None else f"{recipe.name} (task {recipe.task})",
        paradigm=recipe.model.paradigm,
        modality=recipe.modality,
        subjects=len({g.get("subject") for g in groups}),
        sessions=len({(g.get("subject"), g.get("session", "0")) for g in groups}),
        files=len(groups),
        channels=len(recipe.model.channels.pick),
        sfreq=recipe.declared_sfreq,
        classes=", ".join(recipe.classes),
        licence=recipe.model.licence.split(" (")[0],
        quality=(recipe.model.quality and recipe.model.quality.policy) or "default",
        local=local,
        cache=_cache_state(recipe, cache_root),
    )


def moabb_entries(cache_root: Path | None = None) -> list[CatalogEntry]:
    """Rows for the ``conf/dataset`` entries that select a MOABB dataset (read by MOABB).

    Described from the config alone (importing MOABB takes seconds): subjects, sessions,
    files, channels and rate are MOABB's, so they are ``None`` here (shown as "unknown").
    """
    import yaml

    from eegbench.resources import config_dir

    rows = []
    for path in sorted((config_dir() / "dataset").glob("*.yaml")):
        cfg = yaml.safe_load(path.read_text()) or {}
        node = cfg.get("moabb")
        if not node:
            continue
        name = str(cfg.get("name", path.stem))
        folder = Path(cache_root) / name if cache_root is not None else None
        cached = "-" if folder is None else (
            "not cached" if not folder.is_dir() or not any(folder.iterdir()) else "cached")
        rows.append(CatalogEntry(
            name=name, paradigm=f"MOABB {node.get('dataset')} / {node.get('paradigm')}",
            modality="eeg", subjects=None, sessions=None, files=None, channels=None, sfreq=None,
            classes=str(cfg.get("task", "")), licence="see MOABB", quality="-",
            local="via MOABB (MNE_DATA)", cache=cached))
    return rows


def format_table(rows: list[CatalogEntry]) -> str:
    """A Markdown table of the catalogue (cells escaped)."""
    if not rows:
        return "(no dataset)\n"
    header = list(asdict(rows[0]))

    def cell(v: object) -> str:
        return UNKNOWN if v is None else str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in asdict(r).values()) + " |" for r in rows]
    return "\n".join(lines) + "\n"
