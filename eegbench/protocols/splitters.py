"""Protocol splitters: each yields folds of (train, validation, test) window indices.

Validation windows are always drawn from *training* subjects, never from the test subject,
so early stopping and model selection cannot see the test data. :func:`make_splitter` and
:func:`splitter_classes` (from :mod:`eegbench.protocols.registry`, re-exported here) build a
splitter by protocol name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from eegbench.protocols.registry import make_splitter, splitter_classes

__all__ = ["Fold", "LeakageError", "LeaveOneSubjectOut", "assert_disjoint",
           "draw_valid_subjects", "effective_n_valid", "make_splitter", "sorted_subjects",
           "splitter_classes"]

logger = logging.getLogger(__name__)

class LeakageError(AssertionError):
    """Train, validation and test folds share a subject or a window."""


def _empty() -> np.ndarray:
    return np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class Fold:
    """One evaluation fold: window indices into the dataset's metadata table.

    Attributes
    ----------
    name : str
        Unique within a protocol run (part of the result row's identity).
    train, valid, test : ndarray of int
        Training windows, validation windows (early stopping only; never from the test
        subject's evaluated windows) and evaluated windows.
    test_subjects, valid_subjects : tuple of str
        Subjects of the test and validation windows.
    calib : ndarray of int
        Few-shot protocols: the labelled calibration windows of the test subject (disjoint
        from ``test``). Empty for other protocols.
    shots : int or None
        Few-shot protocols: calibration windows per class.
    draw : int or None
        Few-shot protocols: index of the repeated random draw of the calibration windows.
    calibration : str or None
        Few-shot protocols: how the calibration windows are used (``"from_scratch"`` or
        ``"cross_subject_then_calibrate"``).
    train_sessions, test_sessions : tuple of str
        Cross-session protocols: sessions of the training and test windows.
    """

    name: str
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    test_subjects: tuple[str, ...]
    valid_subjects: tuple[str, ...]
    calib: np.ndarray = field(default_factory=_empty)
    shots: int | None = None
    draw: int | None = None
    calibration: str | None = None
    train_sessions: tuple[str, ...] = ()
    test_sessions: tuple[str, ...] = ()


def assert_disjoint(fold: Fold, meta: pd.DataFrame, by_subject: bool = True) -> None:
    """Raise :class:`LeakageError` if the fold's parts share a window (or a subject).

    Parameters
    ----------
    fold : Fold
        The fold to check.
    meta : DataFrame
        The metadata table the indices refer to (needs a ``subject`` column).
    by_subject : bool
        Also require that no subject appears in two of train / valid / test (cross-subject
        protocols). Calibration windows (few-shot) come from the test subject by design, but
        must not be test windows, and their subject must not be in train or valid.
    """
    parts = {"train": fold.train, "valid": fold.valid, "test": fold.test, "calib": fold.calib}
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            shared = np.intersect1d(parts[a], parts[b])
            if shared.size:
                raise LeakageError(f"fold {fold.name}: {shared.size} window(s) in both {a} and {b}")
            # Calibration windows belong to the test subject by design (few-shot).
            if by_subject and "calib" not in (a, b):
                sa = set(meta["subject"].iloc[parts[a]])
                sb = set(meta["subject"].iloc[parts[b]])
                if sa & sb:
                    raise LeakageError(f"fold {fold.name}: subject(s) {sorted(sa & sb)} in both "
                                       f"{a} and {b}")


def draw_valid_subjects(subjects: np.ndarray, test_subject: str, n_valid: int,
                        seed: int) -> np.ndarray:
    """Draw ``n_valid`` validation subjects among ``subjects`` other than ``test_subject``.

    The draw depends only on ``seed`` and the test subject's position in the sorted subject
    list, so every protocol built on leave-one-subject-out uses the same validation subjects.
    """
    subjects = np.asarray(subjects)
    rest = subjects[subjects != test_subject]
    rng = np.random.default_rng([seed, int(np.flatnonzero(subjects == test_subject)[0])])
    return np.sort(rng.choice(rest, size=n_valid, replace=False))


def effective_n_valid(n_subjects: int, requested: int, protocol: str) -> int:
    """Return the number of validation subjects for a dataset of ``n_subjects`` subjects.

    Rule: ``min(requested, max(1, (n_subjects - 1) // 3))``, i.e. at most a third of the
    non-test subjects validate and at least two thirds train. 36 eegmat subjects keep the
    default 2; the 5-subject Muse P300 set gets 1 (3 training subjects instead of 2).

    Raises
    ------
    ValueError
        With fewer than 3 subjects (1 test, 1 validation, 1 training), naming
        ``protocol.n_valid_subjects``.
    """
    if n_subjects < 3:
        raise ValueError(
            f"{protocol} needs at least 3 subjects (1 test, 1 validation for early stopping, "
            f">=1 train); got {n_subjects}. Add subjects (dataset.subjects) or use a "
            f"within-subject protocol (protocol=blocked_kfold, protocol=within_run or "
            f"protocol=cross_session); protocol.n_valid_subjects cannot go below 1.")
    n_valid = min(int(requested), max(1, (n_subjects - 1) // 3))
    if n_valid < requested:
        logger.info("%s: protocol.n_valid_subjects=%d reduced to %d for %d subjects (at most "
                    "a third of the non-test subjects validate)", protocol, requested, n_valid,
                    n_subjects)
    return n_valid


def sorted_subjects(meta: pd.DataFrame, n_valid_subjects: int, protocol: str) -> np.ndarray:
    """Return the sorted subject ids, checking there are enough for test + validation + train.

    Raises
    ------
    ValueError
        If fewer than ``n_valid_subjects + 2`` subjects are present.
    """
    subjects = np.array(sorted(meta["subject"].unique()))
    if len(subjects) < n_valid_subjects + 2:
        raise ValueError(
            f"{protocol} needs at least {n_valid_subjects + 2} subjects (1 test, "
            f"{n_valid_subjects} validation, >=1 train); got {len(subjects)}. Within-subject "
            "protocols work with any number of subjects: protocol=blocked_kfold, "
            "protocol=within_run (several runs) or protocol=cross_session (several sessions)."
        )
    return subjects


class LeaveOneSubjectOut:
    """Leave-one-subject-out: each subject is the test set once.

    The remaining subjects are split into training and validation subjects; the validation
    subjects (``n_valid_subjects``, drawn with ``seed``, reduced on small datasets by
    :func:`effective_n_valid`) are used for early stopping only.

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
        n_valid = effective_n_valid(len(subjects), self.n_valid_subjects,
                                    "leave-one-subject-out")
        subject_col = meta["subject"].to_numpy()
        for test_subject in subjects:
            valid_subjects = draw_valid_subjects(subjects, test_subject, n_valid, self.seed)
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
