"""Cross-session splits: a clear error on single-session data, correct folds otherwise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eegbench.protocols.cross_session import CrossSession


def test_single_session_dataset_is_a_clear_error(fake_windows):
    # every subject of the fake dataset was recorded in one session
    with pytest.raises(ValueError, match="two or more sessions"):
        list(CrossSession().split(fake_windows.meta))


def _synthetic_meta() -> pd.DataFrame:
    # edge case not in the shared data: subject A has 3 sessions, B has 2, C has 1
    rows = []
    for subject, n_sessions in (("A", 3), ("B", 2), ("C", 1)):
        for session in range(n_sessions):
            rows += [{"subject": subject, "session": str(session), "label": i % 2}
                     for i in range(10)]
    return pd.DataFrame(rows)


def test_each_session_is_tested_once_per_multi_session_subject():
    meta = _synthetic_meta()
    splitter = CrossSession(valid_fraction=0.2, seed=0)
    folds = list(splitter.split(meta))
    assert splitter.get_n_splits(meta) == len(folds) == 5
    assert [f.name for f in folds][:2] == ["subject-A/session-0", "subject-A/session-1"]
    for fold in folds:
        test_meta = meta.iloc[fold.test]
        train_meta = meta.iloc[np.r_[fold.train, fold.valid]]
        assert set(test_meta["session"]) == set(fold.test_sessions)
        assert not set(train_meta["session"]) & set(fold.test_sessions)
        assert set(train_meta["subject"]) == set(test_meta["subject"]) == set(fold.test_subjects)
        # stratified validation: 2 windows (20 %) of each class per training session pair
        assert np.bincount(meta["label"].iloc[fold.valid]).min() >= 1
    again = [f.valid for f in CrossSession(valid_fraction=0.2, seed=0).split(meta)]
    assert all(np.array_equal(a, f.valid) for a, f in zip(again, folds, strict=True))
