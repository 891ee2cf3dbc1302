"""Within-subject few-shot protocol: k labelled windows per class from the test subject.

For each test subject, each k in ``shots`` and each of ``n_draws`` random draws, ``k``
windows of every class are drawn from the test subject as *calibration* data; the model is
evaluated on that subject's remaining windows. Two modes:

``from_scratch``
    The model is trained on the k calibration windows per class only. Deep models early-stop
    on the validation subjects (other subjects, as in leave-one-subject-out); nothing is
    selected on the test subject's evaluated windows.
``cross_subject_then_calibrate``
    A cross-subject model is trained on the training subjects (validation subjects for early
    stopping, exactly the leave-one-subject-out fold of that subject), then calibrated on the
    k windows per class (see :func:`eegbench.protocols.calibration.calibrate`).

Draws are nested: within one draw, the k=1 windows are among the k=5 windows, which are among
the k=10 windows, so a k-shot curve compares like with like. Draws depend only on the seed,
the subject, the class and the draw index, so they are reproducible.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from eegbench.protocols.calibration import CalibrationSpec, calibrate, torch_module
from eegbench.protocols.splitters import (
    Fold,
    assert_disjoint,
    draw_valid_subjects,
    effective_n_valid,
    sorted_subjects,
)

MODES = ("from_scratch", "cross_subject_then_calibrate")


class WithinSubjectFewShot:
    """Few-shot calibration on each test subject (scikit-learn splitter style).

    Parameters
    ----------
    shots : sequence of int
        Calibration windows per class (each k gives its own folds).
    n_draws : int
        Repeated random draws of the calibration windows per subject and k.
    mode : {"from_scratch", "cross_subject_then_calibrate"}
        Whether the training subjects' windows are part of the fold's training data.
    n_valid_subjects : int
        Validation subjects (for early stopping), drawn from the other subjects exactly as in
        :class:`~eegbench.protocols.splitters.LeaveOneSubjectOut` with the same seed.
    seed : int
        Seed of the validation-subject and calibration draws.
    """

    name = "fewshot"

    def __init__(self, shots: Sequence[int] = (1, 5, 10), n_draws: int = 3,
                 mode: str = "cross_subject_then_calibrate", n_valid_subjects: int = 2,
                 seed: int = 0) -> None:
        shots = [int(k) for k in shots]
        if not shots or min(shots) < 1:
            raise ValueError(f"Invalid value for the 'shots' parameter. Allowed values are "
                             f"non-empty lists of integers >= 1, but got {shots}.")
        if int(n_draws) < 1:
            raise ValueError(f"Invalid value for the 'n_draws' parameter. Allowed values are "
                             f"integers >= 1, but got {n_draws}.")
        if mode not in MODES:
            raise ValueError(f"Invalid value for the 'mode' parameter. Allowed values are "
                             f"{list(MODES)}, but got {mode!r}.")
        if n_valid_subjects < 1:
            raise ValueError(f"Invalid value for the 'n_valid_subjects' parameter. Allowed "
                             f"values are integers >= 1, but got {n_valid_subjects}.")
        self.shots = sorted(set(shots))
        self.n_draws = int(n_draws)
        self.mode = mode
        self.n_valid_subjects = int(n_valid_subjects)
        self.seed = int(seed)

    def get_n_splits(self, meta: pd.DataFrame) -> int:
        """Return the number of folds (subjects x shots x draws)."""
        return meta["subject"].nunique() * len(self.shots) * self.n_draws

    def _check_counts(self, meta: pd.DataFrame) -> None:
        counts = meta.groupby(["subject", "label"]).size().unstack(fill_value=0)
        need = max(self.shots) + 1
        short = counts[counts.min(axis=1) < need]
        if len(short):
            subject = short.index[0]
            label = int(short.loc[subject].idxmin())
            raise ValueError(
                f"few-shot with k={max(self.shots)} needs at least {need} windows of every class "
                f"per subject (k to calibrate, >=1 to test); subject {subject!r} has "
                f"{int(short.loc[subject].min())} window(s) of label {label}. Lower "
                f"protocol.shots or drop the subject.")

    def split(self, meta: pd.DataFrame) -> Iterator[Fold]:
        """Yield folds ordered by subject, then k, then draw.

        Raises
        ------
        ValueError
            If there are too few subjects, or a subject has too few windows of a class.
        """
        subjects = sorted_subjects(meta, 1, "few-shot")
        n_valid = effective_n_valid(len(subjects), self.n_valid_subjects, "few-shot")
        self._check_counts(meta)
        subject_col = meta["subject"].to_numpy()
        labels = meta["label"].to_numpy()
        classes = np.unique(labels)
        for position, test_subject in enumerate(subjects):
            valid_subjects = draw_valid_subjects(subjects, test_subject, n_valid, self.seed)
            is_test = subject_col == test_subject
            is_valid = np.isin(subject_col, valid_subjects)
            train = (np.flatnonzero(~is_test & ~is_valid)
                     if self.mode == "cross_subject_then_calibrate" else np.empty(0, np.int64))
            for draw in range(self.n_draws):
                # One permutation per (subject, class, draw), shared by every k: nested shots.
                orders = {}
                for c in classes:
                    pool = np.flatnonzero(is_test & (labels == c))
                    rng = np.random.default_rng([self.seed, position, int(c), draw, 7919])
                    orders[c] = rng.permutation(pool)
                for k in self.shots:
                    calib = np.sort(np.concatenate([orders[c][:k] for c in classes]))
                    test = np.setdiff1d(np.flatnonzero(is_test), calib)
                    fold = Fold(
                        name=f"subject-{test_subject}/shots-{k}/draw-{draw}",
                        train=train, valid=np.flatnonzero(is_valid), test=test,
                        test_subjects=(str(test_subject),),
                        valid_subjects=tuple(str(s) for s in valid_subjects),
                        calib=calib, shots=k, draw=draw, calibration=self.mode,
                    )
                    assert_disjoint(fold, meta)
                    yield fold


class BaseModelCache:
    """Keeps the last cross-subject model, so the k x draws calibrations of a subject share it.

    Folds come ordered by subject, so one entry suffices; its key is (seed, train windows).
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._value: tuple[Any, dict[str, Any], float] | None = None

    def get(self, key: tuple, fit: Callable[[], tuple[Any, dict[str, Any], float]]):
        """Return the cached (model, report, seconds) for ``key``, fitting it if needed."""
        if key != self._key:
            self._key, self._value = None, None
            self._value = fit()
            self._key = key
        return self._value


def fit_fewshot(build: Callable[[], Any], X: np.ndarray, y: np.ndarray, fold: Fold,
                signal: Any, seed: int, spec: CalibrationSpec,
                cache: BaseModelCache | None = None) -> tuple[Any, dict[str, Any], float]:
    """Fit a model for a few-shot fold; return (model, fit report, training seconds).

    ``from_scratch``: ``build()`` fitted on the calibration windows, validation subjects for
    early stopping. ``cross_subject_then_calibrate``: deep models are trained on the training
    subjects (early stopping on the validation subjects) once per subject and seed, then a copy
    is fine-tuned on the calibration windows (:func:`~eegbench.protocols.calibration.calibrate`);
    classical models (no torch module) are refitted on training + validation subjects +
    calibration windows.
    Training seconds include the cross-subject training.
    """
    Xv, yv = X[fold.valid], y[fold.valid]
    Xc, yc = X[fold.calib], y[fold.calib]
    if fold.calibration == "from_scratch" or len(fold.train) == 0:
        model = build()
        t0 = time.perf_counter()
        report = model.fit(Xc, yc, Xv, yv, signal, seed)
        return model, {**report, "calibration": "fit on calibration windows"}, \
            time.perf_counter() - t0

    def fit_base() -> tuple[Any, dict[str, Any], float]:
        model = build()
        t0 = time.perf_counter()
        report = model.fit(X[fold.train], y[fold.train], Xv, yv, signal, seed)
        return model, report, time.perf_counter() - t0

    key = (seed, fold.test_subjects, len(fold.train), int(fold.train.sum()))
    base, base_report, base_seconds = (cache or BaseModelCache()).get(key, fit_base)
    if torch_module(base) is not None:
        t0 = time.perf_counter()
        model, report = calibrate(base, Xc, yc, signal.n_outputs, spec, seed)
        seconds = time.perf_counter() - t0
        return model, {**base_report, **report, "base_train_seconds": round(base_seconds, 3),
                       "calibration": "fine-tune cross-subject model"}, base_seconds + seconds
    # Classical pipeline (no early stopping): refit on every non-test subject (training and
    # validation subjects) + calibration windows.
    model = build()
    both = np.concatenate([fold.train, fold.valid, fold.calib])
    t0 = time.perf_counter()
    report = model.fit(X[both], y[both], Xv, yv, signal, seed)
    return model, {**report, "calibration": "refit on train + calibration windows"}, \
        time.perf_counter() - t0
