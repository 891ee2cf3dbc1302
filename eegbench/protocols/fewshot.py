"""Within-subject few-shot protocol: the first k trials per class of the test subject calibrate.

For each test subject and each k in ``shots``, the *calibration* windows are the first k
windows of every class of that subject in time order (session, run, onset), as a user would
record them in a calibration session; the model is evaluated on the subject's windows that come
*after* the calibration of the largest k, minus a gap (``gap_s``, default one window length)
after the last calibration window of the same run. Every k is evaluated on the same test
windows, and the k=1 shots are among the k=5 shots, so a k-shot curve compares like with like.
Windows recorded between the calibration shots and not chosen as shots are not used.
With ``order="per_class"`` the evaluation windows of each class are those after that class's
own shots (for recordings that present one class in a block first, e.g. the rest trials at the
start of each SSVEP-exoskeleton recording); evaluation windows of one class may then precede
shots of another class.

The protocol refuses datasets where every recording holds a single class (eegmat: a class is a
whole file, so k shots identify the recording, not the task) unless
``allow_recording_labels=true``.

Two modes:

``from_scratch``
    The model is trained on the k calibration windows per class only, with a fixed budget
    (deep models: ``trainer.max_epochs`` epochs, no early stopping; see
    :func:`eegbench.adaptation.calibration.fit_fewshot`).
    No other subject is used.
``cross_subject_then_calibrate``
    A cross-subject model is trained on the training subjects (validation subjects for early
    stopping, exactly the leave-one-subject-out fold of that subject), then calibrated on the
    k windows per class (see :func:`eegbench.adaptation.calibration.calibrate`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from eegbench.protocols.splitters import (
    Fold,
    assert_disjoint,
    draw_valid_subjects,
    effective_n_valid,
    sorted_subjects,
)
from eegbench.protocols.within_subject import _gap_s, drop_near, recording_labelled, time_order

MODES = ("from_scratch", "cross_subject_then_calibrate")
ORDERS = ("global", "per_class")


class WithinSubjectFewShot:
    """Few-shot calibration on each test subject with time-ordered shots.

    Parameters
    ----------
    shots : sequence of int
        Calibration windows per class (each k gives its own folds).
    mode : {"from_scratch", "cross_subject_then_calibrate"}
        Whether the training subjects' windows are part of the fold's training data.
    n_valid_subjects : int
        Validation subjects (early stopping of the cross-subject model), drawn from the other
        subjects exactly as in :class:`~eegbench.protocols.splitters.LeaveOneSubjectOut`.
        Unused in ``from_scratch`` mode (fixed budget, no validation data).
    gap_s : float or None
        Evaluation windows start this many seconds after the last calibration window of the
        same run (None = one window length, from the ``duration_s`` column).
    allow_recording_labels : bool
        Run even when every recording holds a single class (then the shots identify the
        recording; the scores do not measure the task).
    order : {"global", "per_class"}
        Evaluation windows come after the last calibration window of any class (``global``)
        or, per class, after that class's own calibration windows (``per_class``).
    n_draws : int
        Kept for configuration compatibility: must be 1 (time-ordered shots are not drawn).
    seed : int
        Seed of the validation-subject draw.
    """

    name = "fewshot"

    def __init__(self, shots: Sequence[int] = (1, 5, 10),
                 mode: str = "cross_subject_then_calibrate", n_valid_subjects: int = 2,
                 gap_s: float | None = None,
                 allow_recording_labels: bool = False, order: str = "global", n_draws: int = 1,
                 seed: int = 0) -> None:
        shots = [int(k) for k in shots]
        if not shots or min(shots) < 1:
            raise ValueError(f"Invalid value for the 'shots' parameter. Allowed values are "
                             f"non-empty lists of integers >= 1, but got {shots}.")
        if int(n_draws) != 1:
            raise ValueError(f"Invalid value for the 'n_draws' parameter. Allowed values are 1 "
                             f"(shots are the first k trials in time order, not random draws), "
                             f"but got {n_draws}.")
        if order not in ORDERS:
            raise ValueError(f"Invalid value for the 'order' parameter. Allowed values are "
                             f"{list(ORDERS)}, but got {order!r}.")
        if mode not in MODES:
            raise ValueError(f"Invalid value for the 'mode' parameter. Allowed values are "
                             f"{list(MODES)}, but got {mode!r}.")
        if n_valid_subjects < 1:
            raise ValueError(f"Invalid value for the 'n_valid_subjects' parameter. Allowed "
                             f"values are integers >= 1, but got {n_valid_subjects}.")
        self.shots = sorted(set(shots))
        self.n_draws = 1
        self.mode = mode
        self.n_valid_subjects = int(n_valid_subjects)
        self.gap_s = gap_s
        self.allow_recording_labels = bool(allow_recording_labels)
        self.order = order
        self.seed = int(seed)

    def get_n_splits(self, meta: pd.DataFrame) -> int:
        """Return the number of folds (subjects x shots)."""
        return meta["subject"].nunique() * len(self.shots)

    def check_identifiable(self, meta: pd.DataFrame) -> None:
        """Refuse datasets whose classes are whole recordings (unless explicitly allowed).

        Raises
        ------
        ValueError
            If every (subject, session, run) holds a single class.
        """
        single, example = recording_labelled(meta)
        if single and not self.allow_recording_labels:
            raise ValueError(
                f"few-shot refused: every recording of this dataset holds a single class "
                f"({example}), so k labelled windows per class identify the recording (its "
                "drift, electrode contact, time of day), not the task; scores would not measure "
                "the task. Use protocol=loso or protocol=fixed_split, or set "
                "protocol.allow_recording_labels=true to run anyway.")

    def calibration_and_test(self, meta: pd.DataFrame, subject: str, gap: float
                             ) -> tuple[dict[int, np.ndarray], np.ndarray]:
        """Return {k: calibration windows} and the common evaluation windows of a subject.

        Raises
        ------
        ValueError
            If a class has fewer than max(shots) windows, or none left after the calibration.
        """
        order = time_order(meta)
        own = order[meta["subject"].astype(str).to_numpy()[order] == subject]
        labels = meta["label"].to_numpy()
        classes = np.unique(labels)
        k_max = max(self.shots)
        firsts = {}
        for c in classes:
            pool = own[labels[own] == c]
            if len(pool) <= k_max:
                raise ValueError(
                    f"few-shot with k={k_max} needs at least {k_max + 1} windows of every class "
                    f"per subject (k to calibrate, >=1 to test); subject {subject!r} has "
                    f"{len(pool)} window(s) of label {int(c)}. Lower protocol.shots.")
            firsts[c] = pool[:k_max]
        calib = {k: np.sort(np.concatenate([firsts[c][:k] for c in classes]))
                 for k in self.shots}
        position = {w: i for i, w in enumerate(own)}
        if self.order == "global":
            after = own[max(position[w] for w in calib[k_max]) + 1:]
        else:
            after = np.concatenate([own[(labels[own] == c)
                                        & (np.arange(len(own)) > position[firsts[c][-1]])]
                                    for c in classes])
        test = np.sort(drop_near(after, calib[k_max], meta, gap))
        missing = [int(c) for c in classes if not (labels[test] == c).any()]
        if missing:
            raise ValueError(
                f"few-shot with k={k_max}: subject {subject!r} has no window of label(s) "
                f"{missing} after its first {k_max} trials per class (+ gap {gap:g} s), so "
                "nothing of that class is left to evaluate. Lower protocol.shots or drop the "
                "subject" + (", or set protocol.order=per_class." if self.order == "global"
                             else "."))
        return calib, test

    def split(self, meta: pd.DataFrame) -> Iterator[Fold]:
        """Yield folds ordered by subject, then k.

        Raises
        ------
        ValueError
            If classes are whole recordings, there are too few subjects, or a subject has too
            few windows of a class before / after its calibration shots.
        """
        self.check_identifiable(meta)
        subjects = sorted_subjects(meta, 1, "few-shot")
        n_valid = effective_n_valid(len(subjects), self.n_valid_subjects, "few-shot")
        gap = _gap_s(meta, self.gap_s)
        subject_col = meta["subject"].to_numpy()
        for test_subject in subjects:
            calib, test = self.calibration_and_test(meta, str(test_subject), gap)
            if self.mode == "cross_subject_then_calibrate":
                valid_subjects = draw_valid_subjects(subjects, test_subject, n_valid,
                                                     self.seed)
                is_valid = np.isin(subject_col, valid_subjects)
                train = np.flatnonzero((subject_col != test_subject) & ~is_valid)
                valid = np.flatnonzero(is_valid)
            else:  # fixed budget on the shots alone: no other subject, no validation data
                valid_subjects, train, valid = [], np.empty(0, np.int64), np.empty(0, np.int64)
            for k in self.shots:
                fold = Fold(
                    name=f"subject-{test_subject}/shots-{k}/draw-0",
                    train=train, valid=valid, test=test,
                    test_subjects=(str(test_subject),),
                    valid_subjects=tuple(str(s) for s in valid_subjects),
                    calib=calib[k], shots=k, draw=0, calibration=self.mode,
                )
                assert_disjoint(fold, meta)
                yield fold
