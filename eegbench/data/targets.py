"""Numeric targets of regression tasks: a per-subject value read from a table of the dataset.

A recipe declares its regression tasks under ``targets`` (``data_recipes/physionet_eegmat.yaml``:
``age`` and ``subtractions`` from ``subject-info.csv``, on the rest recordings only); a recipe
resolved for one (:meth:`eegbench.data.recipe.Recipe.for_task`) carries its ``target``, and
:func:`attach_target` gives every window the value of its subject: a ``target`` column in the
metadata, and ``info["target"]`` describing it. The table is read after the windows (it does not
change them), its sha256 checked when the recipe pins it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from eegbench.data.errors import RecipeError
from eegbench.data.paths import confine
from eegbench.data.templates import fill_template
from eegbench.data.windows import WindowsDataset
from eegbench.hashing import sha256_of

__all__ = ["attach_target", "read_subject_targets"]


def _where(recipe_name: str, task: str | None) -> str:
    return f"recipe '{recipe_name}'" + (f", task '{task}'" if task else "")


def read_subject_targets(path: Path, spec: Any, subjects: list[str], where: str
                         ) -> dict[str, float]:
    """Read ``spec.column`` of each of ``subjects`` from the table ``path``.

    Parameters
    ----------
    path : Path
        The CSV table.
    spec : TargetTable
        The recipe's ``target`` (key, key_format, column, sha256).
    subjects : list of str
        Subject ids of the recordings (``04``); each is looked up as ``key_format``.
    where : str
        The recipe and task, for messages.

    Returns
    -------
    dict
        Subject id -> target value.

    Raises
    ------
    FileNotFoundError
        If the table is missing.
    RecipeError
        If its sha256 differs from the pinned one, a column is missing, a subject has no row
        (or several) or its value is not a finite number; the message names the file, the
        subject and what was found.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the target table of {where} (target.table) is "
                                "missing.")
    if spec.sha256 is not None:
        found = sha256_of(path)
        if found != spec.sha256:
            raise RecipeError(f"{path}: sha256 {found} differs from the {spec.sha256} pinned by "
                              f"{where} (target.sha256); the table was changed or replaced.")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for role, column in (("target.key", spec.key), ("target.column", spec.column)):
        if column not in table.columns:
            raise RecipeError(f"{path}: no column {column!r} ({where}, {role}); the table's "
                              f"columns are {list(table.columns)}.")
    keys = table[spec.key].str.strip()
    out = {}
    for subject in subjects:
        key = fill_template(spec.key_format, {"subject": subject})
        rows = table[keys == key]
        if len(rows) != 1:
            found = "no row" if rows.empty else f"{len(rows)} rows"
            raise RecipeError(f"{path}: {found} for subject {subject!r} (looked for "
                              f"{spec.key} == {key!r}; {where}, target.key_format "
                              f"{spec.key_format!r}).")
        raw = str(rows[spec.column].iloc[0]).strip()
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise RecipeError(f"{path}: subject {subject!r} ({spec.key} {key!r}) has "
                              f"{spec.column} {raw!r}, not a finite number ({where}).")
        out[subject] = value
    return out


def attach_target(ds: WindowsDataset, recipe: Any, data_root: str | Path) -> WindowsDataset:
    """Return ``ds`` with each window's numeric target (``meta["target"]``, ``info["target"]``).

    ``recipe`` is resolved for one of its ``targets``; the table lies below the dataset folder
    (``<data_root>/<source.folder>/<target.table>``). ``info["target"]`` holds the task name,
    the column, level, unit, table and its sha256 (what a result row's ``target`` records).
    """
    spec = recipe.model.target
    folder = Path(data_root) / recipe.source["folder"]
    path = folder / spec.table
    confine(path, folder, "target.table", recipe.name)
    where = _where(recipe.name, recipe.task)
    subjects = sorted(ds.meta["subject"].astype(str).unique())
    values = read_subject_targets(path, spec, subjects, where)
    meta = ds.meta.assign(target=ds.meta["subject"].astype(str).map(values).astype("float64"))
    target = {"name": recipe.task, "column": spec.column, "level": spec.level,
              "unit": spec.unit, "table": spec.table, "sha256": sha256_of(path)}
    return WindowsDataset(X=ds.X, meta=meta, info={**ds.info, "target": target})
