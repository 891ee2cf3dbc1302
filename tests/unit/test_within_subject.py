"""Within-subject protocols on real recordings: whole runs, contiguous blocks, gaps honoured."""

from __future__ import annotations

import logging
import re
import time

import numpy as np
import pytest

from eegbench.metrics import compute_metrics
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
    block = splitter.blocks(p300)
    n_classes = p300.groupby([p300["subject"], block])["label"].transform("nunique")
    one_class = n_classes.to_numpy() < 2  # test blocks of a single class are left out
    n_blocks = p300.groupby([p300["subject"], block]).ngroups
    assert len(folds) == n_blocks - p300[one_class].groupby(
        [p300["subject"][one_class], block[one_class]]).ngroups
    order = time_order(p300)
    rank = np.empty(len(order), int)
    rank[order] = np.arange(len(order))
    onset = p300["onset_s"].to_numpy()
    tested = np.concatenate([f.test for f in folds])
    # every window of a two-class block is tested once
    assert np.array_equal(np.sort(tested), np.flatnonzero(~one_class))
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


def test_clear_errors_suggest_a_protocol_that_works(fake_windows):
    # single-class recordings in one session, as in eegmat
    meta = fake_windows.meta
    with pytest.raises(ValueError, match="single class.*blocked_kfold"):
        list(make_splitter("within_run").split(meta))
    with pytest.raises(ValueError, match="one session.*blocked_kfold"):
        list(make_splitter("cross_session").split(meta))
    one = meta[meta["subject"] == "00"]
    with pytest.raises(ValueError, match="at least 3 subjects.*blocked_kfold"):
        list(make_splitter("loso").split(one))


# -- blocked_kfold against a brute-force reference; speed; one-class test blocks ---------------
def _natural_key(value) -> tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(value)))


def reference_blocked_kfold(meta, n_folds: int, gap_s: float, unit_cols: list[str],
                            valid: bool = True) -> list[tuple[str, list, list, list]]:
    """Every fold of blocked_kfold, written for clarity: (name, train, valid, test), one-class
    test blocks included. Windows are sorted by (subject, session, run, onset) in natural order,
    each unit's windows are cut into ``n_folds`` contiguous blocks, and a training (validation)
    window is dropped when a test (validation) window of the same run lies within ``gap_s``."""
    rows = meta.reset_index(drop=True)
    run_of = [tuple(str(rows.at[i, c]) for c in ("subject", "session", "run") if c in rows)
              for i in range(len(rows))]
    unit_of = [tuple(str(rows.at[i, c]) for c in unit_cols) for i in range(len(rows))]
    order = sorted(range(len(rows)), key=lambda i: (
        *(_natural_key(rows.at[i, c]) for c in ("subject", "session", "run") if c in rows),
        float(rows.at[i, "onset_s"])))
    block = {}
    for unit in {u for u in unit_of}:
        members = [i for i in order if unit_of[i] == unit]
        for k, part in enumerate(np.array_split(np.array(members), n_folds)):
            block.update({int(i): k for i in part})
    onset = rows["onset_s"].to_numpy(dtype=float)

    def far(candidates, others):
        return [i for i in candidates
                if not any(run_of[i] == run_of[j] and abs(onset[i] - onset[j]) < gap_s
                           for j in others)]

    folds = []
    for subject in sorted({str(s) for s in rows["subject"]}):
        own = [i for i in range(len(rows)) if str(rows.at[i, "subject"]) == subject]
        for k in range(n_folds):
            test = [i for i in own if block[i] == k]
            v = (k + 1) % n_folds
            held = [i for i in own if valid and block[i] == v]
            train = [i for i in own if block[i] != k and i not in held]
            train, held = far(train, test), far(held, test)
            train = far(train, held)
            folds.append((f"subject-{subject}/block-{k}", train, held, test))
    return folds


def _as_lists(folds):
    return [(f.name, f.train.tolist(), f.valid.tolist(), f.test.tolist()) for f in folds]


@pytest.fixture(scope="module")
def eegmat_meta(eegmat):
    return eegmat.meta.assign(duration_s=eegmat.X.shape[-1] / eegmat.info["sfreq"])


def _two_classes(meta, fold) -> bool:
    return meta["label"].iloc[fold[3]].nunique() >= 2


@pytest.mark.parametrize("params", [{}, {"n_folds": 4, "gap_s": 12.0, "valid": False}])
def test_blocked_kfold_equals_the_reference_on_eegmat(eegmat_meta, params):
    splitter = make_splitter("blocked_kfold", seed=0, **params)
    meta = eegmat_meta[eegmat_meta["subject"].isin(sorted(set(eegmat_meta["subject"]))[:8])]
    expected = reference_blocked_kfold(meta, splitter.n_folds, params.get("gap_s", 5.0),
                                       splitter.unit_columns(meta), splitter.valid)
    assert all(_two_classes(meta, f) for f in expected)  # nothing excluded on eegmat
    assert _as_lists(splitter.split(meta)) == expected


def test_blocked_kfold_equals_the_reference_on_p300_without_its_one_class_blocks(p300):
    splitter = make_splitter("blocked_kfold", seed=0)
    expected = reference_blocked_kfold(p300, 5, float(p300["duration_s"].max()),
                                       splitter.unit_columns(p300))
    kept = [f for f in expected if _two_classes(p300, f)]
    assert _as_lists(splitter.split(p300)) == kept


def test_blocked_kfold_splits_eegmat_in_under_a_second(eegmat_meta, caplog):
    splitter = make_splitter("blocked_kfold", seed=0)
    start = time.process_time()
    with caplog.at_level(logging.INFO, logger="eegbench.protocols"):
        folds = list(splitter.split(eegmat_meta))
    spent = time.process_time() - start
    assert len(folds) == 5 * eegmat_meta["subject"].nunique()
    assert spent < 1.0, f"{spent:.2f} s of CPU time to split eegmat"
    assert "blocked_kfold: cutting" in caplog.text  # logged before the long step


def test_one_class_test_blocks_are_excluded_so_no_nan_enters_a_mean(eegmat_meta, caplog):
    """eegmat cut per session (rest recording, then arithmetic): most blocks hold one class."""
    meta = eegmat_meta[eegmat_meta["subject"].isin(["00", "01", "02"])]
    splitter = make_splitter("blocked_kfold", seed=0, within="session", valid=False)
    every = reference_blocked_kfold(meta, 5, 5.0, ["subject", "session"], valid=False)
    single = [f for f in every if not _two_classes(meta, f)]
    assert single  # the case exists on this real data
    with caplog.at_level(logging.WARNING, logger="eegbench.protocols"):
        folds = list(splitter.split(meta))
    assert _as_lists(folds) == [f for f in every if _two_classes(meta, f)]
    assert f"{len(single)} of {len(every)} test block(s) hold a single class" in caplog.text
    assert "subject '00' block 0 (only 'rest')" in caplog.text
    # every kept test block gives a defined ROC AUC and balanced accuracy
    for fold in folds:
        y = meta["label"].to_numpy()[fold.test]
        proba = np.column_stack([1 - y * 0.8 - 0.1, y * 0.8 + 0.1])
        scores = compute_metrics(y, proba)
        assert np.isfinite(scores["roc_auc"]) and np.isfinite(scores["balanced_accuracy"])
    with pytest.raises(ValueError, match=r"blocked_kfold: \d+ of \d+ test block\(s\) hold a "
                       r"single class: subject '00' block 0 \(only 'rest'\)"):
        list(make_splitter("blocked_kfold", seed=0, within="session", valid=False,
                           one_class_test_blocks="error").split(meta))
