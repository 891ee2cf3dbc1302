"""Protocol splitters: each yields folds of (train, validation, test) window indices.

Validation windows are always drawn from *training* subjects, never from the test subject,
so early stopping and model selection cannot see the test data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


class LeakageError(AssertionError):
    """Train, validation and test folds share a subject or a window."""


@dataclass(frozen=True)
class Fold:
    """One evaluation fold: window indices into the dataset's metadata table."""

    name: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    test_subjects: tuple[str, ...]
    valid_subjects: tuple[str, ...]


def assert_disjoint(fold: Fold, meta: pd.DataFrame, by_subject: bool = True) -> None:
    """Raise :class:`LeakageError` if the fold's parts share a window (or a subject).

    Parameters
    ----------
    fold : Fold
        The fold to check.
    meta : DataFrame
        The metadata table the indices refer to (needs a ``subject`` column).
    by_subject : bool
        Also require that no subject appears in two parts (cross-subject protocols).
    """
    parts = {"train": fold.train, "valid": fold.valid, "test": fold.test}
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = np.intersect1d(parts[a], parts[b])
            if shared.size:
                raise LeakageError(f"fold {fold.name}: {shared.size} window(s) in both {a} and {b}")
            if by_subject:
                sa = set(meta["subject"].iloc[parts[a]])
                sb = set(meta["subject"].iloc[parts[b]])
                if sa & sb:
                    raise LeakageError(f"fold {fold.name}: subject(s) {sorted(sa & sb)} in both "
                                       f"{a} and {b}")


class LeaveOneSubjectOut:
    """Leave-one-subject-out: each subject is the test set once.

    The remaining subjects are split into training and validation subjects; the validation
    subjects (``n_valid_subjects``, drawn with ``seed``) are used for early stopping only.

    Parameters
    ----------
    n_valid_subjects : int
        Number of training subjects held out for validation in each fold.
    seed : int
        Seed of the validation-subject draw.
    """

    name = "loso"

    def __init__(self, n_valid_subjects: int = 2, seed: int = 0) -> None:
        if n_valid_subjects < 1:
            raise ValueError(f"Invalid value for the 'n_valid_subjects' parameter. Allowed "
                             f"values are integers >= 1, but got {n_valid_subjects}.")
        self.n_valid_subjects = n_valid_subjects
        self.seed = seed

    def get_n_splits(self, meta: pd.DataFrame) -> int:
        """Return the number of folds (the number of subjects)."""
        return meta["subject"].nunique()

    def split(self, meta: pd.DataFrame) -> Iterator[Fold]:
        """Yield one :class:`Fold` per subject, in sorted subject order."""
        subjects = np.array(sorted(meta["subject"].unique()))
        if len(subjects) < self.n_valid_subjects + 2:
            raise ValueError(
                f"leave-one-subject-out needs at least {self.n_valid_subjects + 2} subjects "
                f"(1 test, {self.n_valid_subjects} validation, >=1 train); got {len(subjects)}."
            )
        subject_col = meta["subject"].to_numpy()
        for position, test_subject in enumerate(subjects):
            rest = subjects[subjects != test_subject]
            rng = np.random.default_rng([self.seed, position])
            valid_subjects = np.sort(rng.choice(rest, size=self.n_valid_subjects, replace=False))
            is_test = subject_col == test_subject
            is_valid = np.isin(subject_col, valid_subjects)
            fold = Fold(
                name=f"subject-{test_subject}",
                train=np.flatnonzero(~is_test & ~is_valid),
                valid=np.flatnonzero(is_valid),
                test=np.flatnonzero(is_test),
                test_subjects=(str(test_subject),),
                valid_subjects=tuple(str(s) for s in valid_subjects),
            )
            assert_disjoint(fold, meta)
            yield fold


SPLITTERS = {"loso": LeaveOneSubjectOut}


def make_splitter(name: str, **params: Any) -> LeaveOneSubjectOut:
    """Build a splitter by protocol name.

    Raises
    ------
    ValueError
        If ``name`` is not a known protocol.
    """
    if name not in SPLITTERS:
        raise ValueError(f"Invalid value for the 'protocol.name' parameter. Allowed values are "
                         f"{sorted(SPLITTERS)}, but got {name!r}.")
    return SPLITTERS[name](**params)
