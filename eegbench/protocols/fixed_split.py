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
        split = dict(split)
        unknown = sorted(set(split) - {*PARTS, "source"})
        if unknown:
            raise ValueError(f"Invalid key(s) {unknown} in the dataset config's 'fixed_split'. "
                             f"Allowed keys are {[*PARTS, 'source']}.")
        if not str(split.get("source") or "").strip():
            raise ValueError("The dataset config's 'fixed_split' needs a 'source' (where the split "
                             "comes from), but got none.")
        self.lists = {part: _subject_list(split, part) for part in PARTS}
        for i, a in enumerate(PARTS):
            for b in PARTS[i + 1:]:
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
        subject_col = meta["subject"].astype(str).to_numpy()
        present = set(subject_col)
        missing = {part: sorted(set(ids) - present) for part, ids in self.lists.items()}
        missing = {k: v for k, v in missing.items() if v}
        if missing:
            raise ValueError(f"fixed_split: declared subject(s) {missing} have no window in this "
                             f"dataset (subjects found: {sorted(present)}); the declared split "
                             "cannot be reproduced. Check dataset.subjects and the data root.")
        extra = sorted(present - {s for ids in self.lists.values() for s in ids})
        if extra:
            logger.warning("fixed_split: subject(s) %s are in no declared list and are not used",
                           extra)
        idx = {part: np.flatnonzero(np.isin(subject_col, ids)) for part, ids in self.lists.items()}
        fold = Fold(name="fixed-split", train=idx["train"], valid=idx["valid"], test=idx["test"],
                    test_subjects=tuple(self.lists["test"]),
                    valid_subjects=tuple(self.lists["valid"]))
        assert_disjoint(fold, meta)
        yield fold
