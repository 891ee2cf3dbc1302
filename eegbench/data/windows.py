"""Standardized windows of one dataset (:class:`WindowsDataset`), read from a cache entry.

The recipe cache (:mod:`eegbench.data.cache`) and the MOABB bridge
(:mod:`eegbench.data.bridges.moabb`) write entries of the same layout (``X.npy``,
``meta.csv``, ``manifest.json``, see :mod:`eegbench.atomic`); :func:`read_entry` opens one
(``X.npy`` memory-mapped) once it has been checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eegbench.atomic import read_manifest
from eegbench.data.errors import RecipeError

#: The data files of a windows entry (recorded in its manifest).
ENTRY_FILES = ("X.npy", "meta.csv")


@dataclass
class WindowsDataset:
    """Standardized windows of one dataset, with a metadata table.

    Attributes
    ----------
    X : ndarray, shape (n_windows, n_channels, n_times)
        Windows in the units named in ``info['units']`` (memory-mapped when from the cache).
    meta : DataFrame
        One row per window: subject, session, run, label, label_name, onset_s, source; for a
        regression task also ``target`` (the window's numeric target).
    info : dict
        ch_names, ch_types, ch_pos, sfreq, units, classes, recipe, cache key; for a regression
        task ``target`` (name, column, level, unit, table; :mod:`eegbench.data.targets`).
    """

    X: np.ndarray
    meta: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def is_regression(self) -> bool:
        """True when the windows carry a numeric target (a regression task)."""
        return bool(self.info.get("target")) and "target" in self.meta

    @property
    def y(self) -> np.ndarray:
        """What the models learn, one per window.

        Integer labels, or the numeric targets (float64) of a regression task.
        """
        if self.is_regression:
            return self.meta["target"].to_numpy(dtype=np.float64)
        return self.meta["label"].to_numpy()

    @property
    def classes(self) -> list[str]:
        """Class names; label ``i`` is ``classes[i]``."""
        return list(self.info["classes"])


def read_entry(entry: Path) -> WindowsDataset:
    """Open a checked entry: ``X.npy`` memory-mapped, ``meta.csv`` with string ids.

    ``info`` is the manifest plus ``cache_entry`` (the folder).
    """
    info = read_manifest(entry)
    X = np.load(entry / "X.npy", mmap_mode="r")
    meta = pd.read_csv(entry / "meta.csv", dtype={"subject": str, "session": str, "run": str,
                                                   "event_code": str}, keep_default_na=False)
    info["cache_entry"] = str(entry)
    return WindowsDataset(X=X, meta=meta, info=info)


def shape_problem(entry: Path, manifest: dict[str, Any]) -> str | None:
    """Return why ``X.npy``'s header disagrees with the manifest's shape, or None."""
    X = np.load(entry / "X.npy", mmap_mode="r")
    if X.nbytes != int(manifest["x_nbytes"]) or X.shape[0] != int(manifest["n_windows"]):
        return f"X.npy shape {X.shape} does not match the manifest"
    return None


def subjects_missing_classes(ds: WindowsDataset) -> dict[str, list[str]]:
    """Return ``{subject: [classes it has no window of]}`` for incomplete subjects."""
    classes = list(ds.info["classes"])
    out = {}
    for subject, labels in ds.meta.groupby("subject", sort=True)["label"]:
        missing = [classes[i] for i in range(len(classes)) if i not in set(labels)]
        if missing:
            out[str(subject)] = missing
    return out


def check_subject_classes(ds: WindowsDataset) -> None:
    """Raise if a subject lacks a class (it would be tested on the other classes only).

    A regression task (:attr:`WindowsDataset.is_regression`) has no classes to check.

    Raises
    ------
    RecipeError
        Naming every such subject and its missing classes.
    """
    if ds.is_regression:
        return
    incomplete = subjects_missing_classes(ds)
    if incomplete:
        raise RecipeError(
            f"Dataset '{ds.info.get('recipe')}': subject(s) without windows of some class: "
            + ", ".join(f"{s} lacks {c}" for s, c in incomplete.items())
            + ". A subject tested on one class gives a meaningless balanced accuracy and an "
            "undefined AUC; restore the missing recordings or leave these subjects out "
            "(dataset.subjects).")


