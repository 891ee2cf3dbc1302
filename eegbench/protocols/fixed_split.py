"""Fixed subject split: train / validation / test subject lists declared by the dataset.

Published results on a dataset are often given on one fixed split of its subjects (e.g. the
CBraMod paper's 28 / 4 / 4 split of PhysioNet eegmat). A dataset config declares the split
with its source::

    fixed_split:
      source: "where the split comes from (paper, section, script)"
      train: ["00", "01", ...]
      valid: [...]
      test: [...]

and ``protocol=fixed_split`` evaluates on exactly those lists, so a row can be placed beside
the published figure.

A published split may name another metadata column than ``subject`` (``key: run``,
``key: session``, or a column a hub dataset carries, e.g. ``train``), and may draw its
validation part at random from the training part instead of listing it
(``valid_fraction: 0.2`` instead of ``valid``): a share of the training *subjects*
(scikit-learn's ``GroupShuffleSplit`` with ``random_state=12``, as OpenEEGBench's
``PredefinedSplitter`` does), so validation and training windows never share a subject.
With a key other than ``subject`` the parts may share subjects (a within-subject split).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from eegbench.protocols.splitters import Fold, assert_disjoint

logger = logging.getLogger(__name__)

PARTS = ("train", "valid", "test")

#: ``random_state`` of the validation draw of ``valid_fraction`` (OpenEEGBench 0.6.0,
#: open_eeg_bench/dataset.py, ``PredefinedSplitter.split``).
VALID_DRAW_SEED = 12


def _subject_list(split: Mapping[str, Any], part: str) -> list[str]:
    value = split.get(part)
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"Invalid value for the 'fixed_split.{part}' key of the dataset config. "
                         f"Allowed values are non-empty lists of subject ids, but got {value!r}.")
    return [str(s) for s in value]


class FixedSplit:
    """One fold on the dataset's declared train / validation / test subject lists.

    Parameters
    ----------
    split : mapping or None
        The dataset config's ``fixed_split`` section: ``train``, ``valid`` and ``test`` subject
        lists (validation subjects serve early stopping only) and ``source`` (citation).
    seed : int
        Unused (the split is fixed); accepted so every protocol takes a seed.

    Raises
    ------
    ValueError
        If the dataset declares no split, a list is empty, or the lists overlap.
    """

    name = "fixed_split"

    def __init__(self, split: Mapping[str, Any] | None = None, seed: int = 0) -> None:
        if not split:
            raise ValueError(
                "protocol=fixed_split needs a 'fixed_split' section (train / valid / test subject "
                "lists and their source) in the dataset config conf/dataset/<dataset>.yaml; this "
                "dataset declares none. Use protocol=loso, or declare the published split.")
        split = {k: v for k, v in dict(split).items() if v is not None}
        allowed = [*PARTS, "source", "key", "valid_fraction"]
        unknown = sorted(set(split) - set(allowed))
        if unknown:
            raise ValueError(f"Invalid key(s) {unknown} in the dataset config's 'fixed_split'. "
                             f"Allowed keys are {allowed}.")
        if not str(split.get("source") or "").strip():
            raise ValueError("The dataset config's 'fixed_split' needs a 'source' (where the split "
                             "comes from), but got none.")
        self.key = str(split.get("key", "subject"))
        fraction = split.get("valid_fraction")
        if (fraction is None) == ("valid" not in split):
            raise ValueError("The dataset config's 'fixed_split' needs exactly one of 'valid' (a "
                             "list) and 'valid_fraction' (a share of the training subjects), "
                             f"but got {'both' if fraction is not None else 'neither'}.")
        if fraction is not None and not (isinstance(fraction, int | float)
                                         and 0 < float(fraction) < 1):
            raise ValueError(f"Invalid value for the 'fixed_split.valid_fraction' key. Allowed "
                             f"values are numbers between 0 and 1, but got {fraction!r}.")
        self.valid_fraction = None if fraction is None else float(fraction)
        self.lists = {part: _subject_list(split, part) for part in PARTS
                      if part != "valid" or fraction is None}
        for i, a in enumerate(PARTS):
            for b in PARTS[i + 1:]:
                if a not in self.lists or b not in self.lists:
                    continue
                both = sorted(set(self.lists[a]) & set(self.lists[b]))
                if both:
                    raise ValueError(f"fixed_split: subject(s) {both} are in both '{a}' and "
                                     f"'{b}' of the dataset config.")
        self.source = str(split["source"])
        self.seed = int(seed)

    def get_n_splits(self, meta: pd.DataFrame | None = None) -> int:
        """Return 1 (a single fold)."""
        return 1

    def split(self, meta: pd.DataFrame) -> Iterator[Fold]:
        """Yield the single fold.

        Raises
        ------
        ValueError
            If a declared subject has no window in ``meta`` (the published split cannot be
            reproduced on this data).
        """
        if self.key not in meta.columns:
            raise ValueError(f"fixed_split: the split's key {self.key!r} is not a column of this "
                             f"dataset's metadata (columns: {sorted(meta.columns)}).")
        key_col = meta[self.key].astype(str).to_numpy()
        what = "subject(s)" if self.key == "subject" else f"{self.key} value(s)"
        present = set(key_col)
        missing = {part: sorted(set(ids) - present) for part, ids in self.lists.items()}
        missing = {k: v for k, v in missing.items() if v}
        if missing:
            raise ValueError(f"fixed_split: declared {what} {missing} have no window in this "
                             f"dataset (found: {sorted(present)}); the declared split "
                             "cannot be reproduced. Check dataset.subjects and the data root.")
        extra = sorted(present - {s for ids in self.lists.values() for s in ids})
        if extra:
            logger.warning("fixed_split: %s %s are in no declared list and are not used", what,
                           extra)
        idx = {part: np.flatnonzero(np.isin(key_col, ids)) for part, ids in self.lists.items()}
        if self.valid_fraction is not None:
            idx["train"], idx["valid"] = self._draw_valid(idx["train"], meta)
        subjects = meta["subject"].astype(str).to_numpy()
        fold = Fold(name="fixed-split", train=idx["train"], valid=idx["valid"], test=idx["test"],
                    test_subjects=tuple(self.lists["test"]) if self.key == "subject"
                    else tuple(sorted(set(subjects[idx["test"]]))),
                    valid_subjects=tuple(sorted(set(subjects[idx["valid"]]))))
        assert_disjoint(fold, meta, by_subject=self.key == "subject")
        yield fold

    def _draw_valid(self, train: np.ndarray, meta: pd.DataFrame
                    ) -> tuple[np.ndarray, np.ndarray]:
        """Split the training windows into training and validation windows by subject."""
        from sklearn.model_selection import GroupShuffleSplit

        groups = meta["subject"].astype(str).to_numpy()[train]
        if len(set(groups)) < 2:
            raise ValueError(f"fixed_split: valid_fraction needs at least two training subjects "
                             f"to draw validation subjects from, but got {sorted(set(groups))}.")
        draw = GroupShuffleSplit(n_splits=1, test_size=self.valid_fraction,
                                 random_state=VALID_DRAW_SEED)
        keep, valid = next(draw.split(train, groups=groups))
        return train[keep], train[valid]
