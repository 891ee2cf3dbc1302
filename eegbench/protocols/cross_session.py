"""Cross-session protocol: train on a subject's other sessions, test on a held-out session."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from eegbench.protocols.splitters import Fold, assert_disjoint


class CrossSession:
    """Within-subject, leave-one-session-out.

    For every subject with at least two sessions, each session is the test set once; the
    model is trained on the subject's other sessions. Validation windows (early stopping
    only) are a stratified random fraction of the *training* sessions' windows.

    Parameters
    ----------
    valid_fraction : float
        Fraction of each class's training-session windows held out for validation
        (at least one window per class when the class has two or more).
    seed : int
        Seed of the validation draw.
    """

    name = "cross_session"

    def __init__(self, valid_fraction: float = 0.2, seed: int = 0) -> None:
        if not 0.0 < valid_fraction < 1.0:
            raise ValueError(f"Invalid value for the 'valid_fraction' parameter. Allowed values "
                             f"are floats in (0, 1), but got {valid_fraction}.")
        self.valid_fraction = float(valid_fraction)
        self.seed = int(seed)

    @staticmethod
    def _multi_session_subjects(meta: pd.DataFrame) -> list[str]:
        if "session" not in meta:
            raise ValueError("cross-session needs a 'session' column in the metadata table; "
                             f"the table has columns {list(meta.columns)}.")
        n_sessions = meta.groupby("subject")["session"].nunique()
        subjects = sorted(n_sessions[n_sessions >= 2].index.astype(str))
        if not subjects:
            raise ValueError(
                "cross-session needs at least one subject with two or more sessions; every "
                f"subject of this dataset has one session (sessions: "
                f"{sorted(meta['session'].astype(str).unique())}). Use protocol=within_run "
                "(leave-one-run-out, several runs per subject) or protocol=blocked_kfold (time "
                "blocks inside a session; works for any dataset).")
        return subjects

    def get_n_splits(self, meta: pd.DataFrame) -> int:
        """Return the number of folds (sum over multi-session subjects of their sessions)."""
        subjects = self._multi_session_subjects(meta)
        sub = meta[meta["subject"].astype(str).isin(subjects)]
        return int(sub.groupby("subject")["session"].nunique().sum())

    def _draw_valid(self, idx: np.ndarray, labels: np.ndarray, key: list[int]) -> np.ndarray:
        rng = np.random.default_rng([self.seed, *key])
        picked = []
        for c in np.unique(labels[idx]):
            pool = idx[labels[idx] == c]
            if len(pool) < 2:
                continue
            n = min(len(pool) - 1, max(1, int(round(self.valid_fraction * len(pool)))))
            picked.append(rng.choice(pool, size=n, replace=False))
        return np.sort(np.concatenate(picked)) if picked else np.empty(0, np.int64)

    def split(self, meta: pd.DataFrame) -> Iterator[Fold]:
        """Yield one fold per (subject, test session), subjects and sessions in sorted order.

        Raises
        ------
        ValueError
            If the table has no ``session`` column or no subject with two sessions.
        """
        subjects = self._multi_session_subjects(meta)
        subject_col = meta["subject"].astype(str).to_numpy()
        session_col = meta["session"].astype(str).to_numpy()
        labels = meta["label"].to_numpy()
        for s_pos, subject in enumerate(subjects):
            is_subject = subject_col == subject
            sessions = sorted(set(session_col[is_subject]))
            for t_pos, test_session in enumerate(sessions):
                is_test = is_subject & (session_col == test_session)
                pool = np.flatnonzero(is_subject & ~is_test)
                valid = self._draw_valid(pool, labels, [s_pos, t_pos])
                fold = Fold(
                    name=f"subject-{subject}/session-{test_session}",
                    train=np.setdiff1d(pool, valid), valid=valid, test=np.flatnonzero(is_test),
                    test_subjects=(subject,), valid_subjects=(subject,),
                    train_sessions=tuple(s for s in sessions if s != test_session),
                    test_sessions=(test_session,),
                )
                assert_disjoint(fold, meta, by_subject=False)
                yield fold
