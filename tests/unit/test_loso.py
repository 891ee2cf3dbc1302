"""Leave-one-subject-out splits on the fake dataset's metadata (7 subjects): no leakage, ever."""

from __future__ import annotations

import numpy as np
import pytest

from eegbench.protocols.splitters import Fold, LeakageError, LeaveOneSubjectOut, assert_disjoint


def test_each_subject_is_tested_once_and_never_seen_in_training(fake_windows):
    meta = fake_windows.meta
    folds = list(LeaveOneSubjectOut(n_valid_subjects=2, seed=0).split(meta))
    assert len(folds) == meta["subject"].nunique()
    tested = [f.test_subjects[0] for f in folds]
    assert sorted(tested) == sorted(meta["subject"].unique())
    for fold in folds:
        subj = {part: set(meta["subject"].iloc[getattr(fold, part)])
                for part in ("train", "valid", "test")}
        assert subj["test"] == {fold.test_subjects[0]}
        assert len(subj["valid"]) == 2
        assert not (subj["train"] & subj["valid"]) and not (subj["train"] & subj["test"])
        assert not (subj["valid"] & subj["test"])
        # every window is used exactly once per fold
        used = np.concatenate([fold.train, fold.valid, fold.test])
        assert len(used) == len(np.unique(used)) == len(meta)


def test_validation_subjects_depend_on_seed_and_are_reproducible(fake_windows):
    a = [f.valid_subjects for f in LeaveOneSubjectOut(2, seed=0).split(fake_windows.meta)]
    b = [f.valid_subjects for f in LeaveOneSubjectOut(2, seed=0).split(fake_windows.meta)]
    c = [f.valid_subjects for f in LeaveOneSubjectOut(2, seed=1).split(fake_windows.meta)]
    assert a == b
    assert a != c


def test_leakage_is_detected(fake_windows):
    meta = fake_windows.meta
    s0 = np.flatnonzero(meta["subject"] == "00")
    s1 = np.flatnonzero(meta["subject"] == "01")
    s2 = np.flatnonzero(meta["subject"] == "02")
    shared_window = Fold("bad", np.r_[s0, s1[:1]], s2, s1, ("01",), ("02",))
    with pytest.raises(LeakageError, match="window"):
        assert_disjoint(shared_window, meta)
    shared_subject = Fold("bad", np.r_[s0, s1[:3]], s2, s1[3:], ("01",), ("02",))
    with pytest.raises(LeakageError, match="subject"):
        assert_disjoint(shared_subject, meta)


def test_too_few_subjects_is_a_clear_error(fake_windows):
    meta = fake_windows.meta[fake_windows.meta["subject"].isin(["00", "01"])]
    with pytest.raises(ValueError, match="at least 3 subjects.*n_valid_subjects"):
        list(LeaveOneSubjectOut(n_valid_subjects=2).split(meta))


def test_validation_subjects_adapt_to_small_datasets(fake_windows):
    # rule: at most a third of the non-test subjects validate (at least one)
    for subjects, expected in ((["00", "01", "02"], 1), (["00", "01", "02", "03", "04"], 1),
                               ([f"{i:02d}" for i in range(7)], 2)):
        meta = fake_windows.meta[fake_windows.meta["subject"].isin(subjects)]
        folds = list(LeaveOneSubjectOut(n_valid_subjects=2).split(meta))
        assert {len(f.valid_subjects) for f in folds} == {expected}
        assert all(len(set(meta["subject"].iloc[f.train])) == len(subjects) - 1 - expected
                   for f in folds)
