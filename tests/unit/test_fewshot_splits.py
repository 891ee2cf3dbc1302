"""Time-ordered few-shot splits on real recordings: first k trials calibrate, later trials test."""

from __future__ import annotations

import numpy as np
import pytest

from eegbench.protocols.fewshot import WithinSubjectFewShot
from eegbench.protocols.splitters import make_splitter
from eegbench.protocols.within_subject import time_order


@pytest.fixture(scope="module")
def ssvep(data_root, cache_root):
    """SSVEP exoskeleton (8 trials per class, rest trials first), with window durations."""
    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    ds = load_windows(load_recipe("ssvep_exo_kalunga2016"), data_root, PreprocessSpec(),
                      cache_root)
    return ds.meta.assign(duration_s=ds.X.shape[-1] / ds.info["sfreq"])


def _folds(meta, **kw):
    params = {"shots": [1, 2, 4], "order": "per_class", "seed": 0}
    params.update(kw)
    return list(WithinSubjectFewShot(**params).split(meta))


def test_shots_are_the_first_trials_per_class_and_tests_come_after(ssvep):
    order = time_order(ssvep)
    rank = np.empty(len(order), int)
    rank[order] = np.arange(len(order))
    labels = ssvep["label"].to_numpy()
    onset = ssvep["onset_s"].to_numpy()
    folds = _folds(ssvep)
    assert len(folds) == ssvep["subject"].nunique() * 3
    by_subject = {}
    for fold in folds:
        subject = fold.test_subjects[0]
        own = np.flatnonzero(ssvep["subject"].to_numpy() == subject)
        assert set(ssvep["subject"].iloc[np.r_[fold.calib, fold.test]]) == {subject}
        assert not np.intersect1d(fold.calib, fold.test).size
        for c in np.unique(labels):
            mine = own[labels[own] == c]
            first = mine[np.argsort(rank[mine])][:fold.shots]
            assert set(fold.calib[labels[fold.calib] == c]) == set(first)  # first k in time
            later = fold.test[labels[fold.test] == c]
            assert len(later) and rank[later].min() > rank[first].max()  # evaluated after
            # no evaluated window within one window length (2 s) of a shot
            gaps = np.abs(onset[later][:, None] - onset[fold.calib][None, :])
            assert gaps.min() >= 2.0
        by_subject.setdefault(subject, []).append(fold)
    for subject_folds in by_subject.values():
        k1, k2, k4 = sorted(subject_folds, key=lambda f: f.shots)
        assert set(k1.calib) < set(k2.calib) < set(k4.calib)  # nested shots
        assert np.array_equal(k1.test, k4.test)  # every k on the same evaluated trials


def test_global_order_evaluates_after_every_shot_and_explains_a_missing_class(ssvep):
    # the SSVEP recordings present all rest trials first: nothing of 'rest' after the shots
    with pytest.raises(ValueError, match="no window of label.*0.*order=per_class"):
        _folds(ssvep, order="global")


def test_from_scratch_uses_no_other_subject(ssvep):
    for fold in _folds(ssvep, mode="from_scratch", shots=[2]):
        assert len(fold.train) == 0 and len(fold.valid) == 0 and fold.valid_subjects == ()
    loso = {f.test_subjects: f for f in make_splitter("loso", seed=0).split(ssvep)}
    for fold in _folds(ssvep, mode="cross_subject_then_calibrate", shots=[2]):
        ref = loso[fold.test_subjects]
        assert np.array_equal(fold.train, ref.train) and np.array_equal(fold.valid, ref.valid)


def test_whole_recording_classes_are_refused_unless_overridden(fake_windows):
    # each class of the fake dataset is a whole recording, as in eegmat
    meta = fake_windows.meta.assign(duration_s=5.0)
    with pytest.raises(ValueError, match="few-shot refused.*single class.*allow_recording_labels"):
        list(WithinSubjectFewShot(shots=[1]).split(meta))
    # the override lifts the refusal; time order then leaves no 'rest' window to evaluate
    with pytest.raises(ValueError, match="no window of label"):
        list(WithinSubjectFewShot(shots=[1], allow_recording_labels=True).split(meta))


def test_too_many_shots_is_a_clear_error(ssvep):
    with pytest.raises(ValueError, match=r"k=8 needs at least 9 windows.*subject '01'"):
        _folds(ssvep, shots=[8])


@pytest.mark.parametrize("kw, match", [({"shots": [0]}, "shots"), ({"n_draws": 2}, "n_draws"),
                                        ({"mode": "magic"}, "mode"), ({"order": "x"}, "order")])
def test_bad_parameters_are_clear_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        WithinSubjectFewShot(**kw)
