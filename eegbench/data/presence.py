"""Every recording a recipe pins must be present and readable before its windows are loaded.

A deleted file or a symlink loop is an error naming it, never a silently smaller dataset.
"""

from __future__ import annotations

import re
from pathlib import Path

from eegbench.data.errors import RecipeError
from eegbench.data.recipe import Recipe, SourceFile


def check_recordings_present(recipe: Recipe, data_root: Path, sources: list[SourceFile],
                             subjects: set[str] | None = None) -> None:
    """Raise if a recording of the dataset has disappeared or cannot be read.

    Two kinds of vanished recordings are found: a path under the dataset folder matching
    the recipe's pattern that is a dangling symlink or a symlink loop, and a recording the
    recipe pins (``source.sha256``) that discovery did not find (deleted, renamed,
    unreadable) although other recordings of its subject are there (that subject would be
    evaluated on part of its data, e.g. one class). Only the requested ``subjects`` are
    checked when given.

    Raises
    ------
    RecipeError
        Naming every missing or unreadable recording.
    """
    source = recipe.model.source
    folder = Path(data_root) / source.folder
    pattern = re.compile(source.pattern)
    defaults = {k: str(v) for k, v in (source.defaults or {}).items()}
    found = {s.relpath for s in sources}

    def _subject(rel: str) -> str | None:
        match = pattern.fullmatch(rel)
        if match is None:
            return None
        groups = {**defaults, **{k: v for k, v in match.groupdict().items() if v is not None}}
        return groups.get("subject")

    broken = []
    for path in folder.rglob("*"):
        if path.is_symlink() and not path.exists():  # dangling, or a loop (ELOOP)
            rel = path.relative_to(folder).as_posix()
            subject = _subject(rel)
            if subject is not None and (subjects is None or subject in subjects):
                broken.append(rel)
    present = {s.subject for s in sources}
    excluded = [re.compile(rule.files) for rule in recipe.model.exclude]
    missing = []
    for rel in (source.sha256 or {}):
        rel = str(rel)
        subject = _subject(rel)
        if subject is None or rel in found or rel in broken or not recipe.in_task(rel):
            continue  # a companion, present, or a file of another task
        if any(rx.fullmatch(rel) for rx in excluded):
            continue  # left out on purpose by the recipe's `exclude` (with its reason)
        # A subject with some of its recordings: the others have vanished. (A subject with
        # none is not in the dataset; requested-but-absent subjects are the recipe's check.)
        if subject in present and (subjects is None or subject in subjects):
            missing.append(rel)
    if broken or missing:
        parts = []
        if broken:
            parts.append(f"unreadable (dangling symlink or symlink loop): {sorted(broken)}")
        if missing:
            parts.append(f"pinned in the recipe's source.sha256 but not found: {sorted(missing)}")
        raise RecipeError(
            f"Dataset '{recipe.name}': recording(s) in {folder} have disappeared; "
            + "; ".join(parts) + ". Restore them (their subjects would otherwise be tested on "
            "part of their data), or remove their subjects from dataset.subjects.")
