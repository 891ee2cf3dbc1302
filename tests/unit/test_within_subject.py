"""Within-subject protocols on real recordings: whole runs, contiguous blocks, gaps honoured."""

from __future__ import annotations

import numpy as np
import pytest

from eegbench.protocols.splitters import make_splitter
from eegbench.protocols.within_subject import time_order


@pytest.fixture(scope="module")
def p300(data_root, cache_root):
    """Visual P300 subjects 1 (16 runs in 3 sessions) and 4 (one run), with window durations."""
    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    ds = load_windows(load_recipe("muse_visual_p300_eegnotebooks"), data_root, PreprocessSpec(),
                      cache_root, subjects=["1", "4"])
    return ds.meta.assign(duration_s=ds.X.shape[-1] / ds.info["sfreq"])


def _key(meta, idx, cols=("subject", "session", "run")):
    return set(meta.iloc[idx][list(cols)].astype(str).agg("|".join, axis=1))


def test_leave_one_run_out_never_splits_a_run(p300):
    folds = list(make_splitter("within_run", seed=0).split(p300))
    runs_per_subject = p300.groupby("subject")["run"].nunique()
    assert len(folds) == int(runs_per_subject[runs_per_subject >= 3].sum())
    for fold in folds:
        (test_run,) = _key(p300, fold.test)
        assert test_run not in _key(p300, fold.train) | _key(p300, fold.valid)
        # the test fold is the whole run, and every part belongs to the test subject
        subject, session, run = test_run.split("|")
        whole = (p300["subject"] == subject) & (p300["session"] == session) & (p300["run"] == run)
        assert np.array_equal(np.sort(fold.test), np.flatnonzero(whole))
        assert set(p300["subject"].iloc[np.r_[fold.train, fold.valid]]) == {subject}


def test_blocked_kfold_blocks_are_contiguous_in_time_with_a_gap(p300):
    splitter = make_splitter("blocked_kfold", seed=0, n_folds=5, gap_s=1.0)
    folds = list(splitter.split(p300))
    assert len(folds) == 5 * p300["subject"].nunique()
    order = time_order(p300)
    rank = np.empty(len(order), int)
    rank[order] = np.arange(len(order))
    onset = p300["onset_s"].to_numpy()
    tested = np.concatenate([f.test for f in folds])
    assert np.array_equal(np.sort(tested), np.arange(len(p300)))  # every window tested once
    for fold in folds:
        assert not np.intersect1d(fold.test, np.r_[fold.train, fold.valid]).size
        for session_run in _key(p300, fold.test, ("subject", "session")):
            subject, session = session_run.split("|")
            in_unit = np.flatnonzero((p300["subject"] == subject) & (p300["session"] == session))
            test_here = np.intersect1d(fold.test, in_unit)
            # contiguous in time order within the session
            r = np.sort(rank[test_here])
            assert r[-1] - r[0] + 1 == len(r)
        # no training window within the gap of a test window of the same run
        for run in _key(p300, fold.test):
            subject, session, name = run.split("|")
            same = ((p300["subject"] == subject) & (p300["session"] == session)
                    & (p300["run"] == name)).to_numpy()
            t = onset[np.intersect1d(fold.test, np.flatnonzero(same))]
            tr = onset[np.intersect1d(np.r_[fold.train, fold.valid], np.flatnonzero(same))]
            assert not ((tr > t.min() - 1.0) & (tr < t.max() + 1.0)).any()


def test_blocked_kfold_on_eegmat_cuts_each_single_class_recording(eegmat):
    meta = eegmat.meta.assign(duration_s=eegmat.X.shape[-1] / eegmat.info["sfreq"])
    folds = list(make_splitter("blocked_kfold", seed=0).split(meta))
    for fold in folds[:10]:
        # both classes in test and train: blocks are cut inside each run (= class) here
        assert set(meta["label"].iloc[fold.test]) == {0, 1}
        assert set(meta["label"].iloc[fold.train]) == {0, 1}
        # default gap = one window length (5 s): no training window touches a test window
        for run in _key(meta, fold.test):
            same = (meta[["subject", "session", "run"]].astype(str).agg("|".join, axis=1)
                    == run).to_numpy()
            t = meta["onset_s"].to_numpy()[np.intersect1d(fold.test, np.flatnonzero(same))]
            tr = meta["onset_s"].to_numpy()[np.intersect1d(fold.train, np.flatnonzero(same))]
            assert not ((tr > t.min() - 5.0) & (tr < t.max() + 5.0)).any()


def test_clear_errors_suggest_a_protocol_that_works(eegmat):
    with pytest.raises(ValueError, match="single class.*blocked_kfold"):
        list(make_splitter("within_run").split(eegmat.meta))
    with pytest.raises(ValueError, match="one session.*blocked_kfold"):
        list(make_splitter("cross_session").split(eegmat.meta))
    one = eegmat.meta[eegmat.meta["subject"] == "00"]
    with pytest.raises(ValueError, match="at least 3 subjects.*blocked_kfold"):
        list(make_splitter("loso").split(one))
