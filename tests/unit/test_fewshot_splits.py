"""Few-shot splits on the real eegmat metadata: calibration never tested, reproducible by seed."""

from __future__ import annotations

import numpy as np
import pytest

from eegbench.protocols.fewshot import WithinSubjectFewShot
from eegbench.protocols.splitters import make_splitter


def _folds(meta, **kw):
    params = {"shots": [1, 5, 10], "n_draws": 2, "seed": 0}
    params.update(kw)
    return list(WithinSubjectFewShot(**params).split(meta))


def test_calibration_windows_are_never_test_windows(eegmat):
    meta = eegmat.meta
    folds = _folds(meta)
    assert len(folds) == meta["subject"].nunique() * 3 * 2
    labels = meta["label"].to_numpy()
    for fold in folds:
        subject = fold.test_subjects[0]
        assert not np.intersect1d(fold.calib, fold.test).size
        # calibration: exactly k windows of each class, all from the test subject
        assert set(meta["subject"].iloc[fold.calib]) == {subject}
        assert np.bincount(labels[fold.calib]).tolist() == [fold.shots, fold.shots]
        # calibration + test = every window of the test subject
        own = np.flatnonzero(meta["subject"].to_numpy() == subject)
        assert np.array_equal(np.sort(np.r_[fold.calib, fold.test]), own)
        # training and validation never contain the test subject
        assert subject not in set(meta["subject"].iloc[np.r_[fold.train, fold.valid]])
        assert fold.name == f"subject-{subject}/shots-{fold.shots}/draw-{fold.draw}"


def test_draws_are_reproducible_by_seed_and_differ_across_seeds_and_draws(eegmat):
    a = {f.name: f.calib for f in _folds(eegmat.meta, seed=3)}
    b = {f.name: f.calib for f in _folds(eegmat.meta, seed=3)}
    c = {f.name: f.calib for f in _folds(eegmat.meta, seed=4)}
    assert a.keys() == b.keys() == c.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert sum(not np.array_equal(a[k], c[k]) for k in a) > 0.9 * len(a)
    assert not np.array_equal(a["subject-05/shots-5/draw-0"], a["subject-05/shots-5/draw-1"])


def test_shots_are_nested_within_a_draw(eegmat):
    by_name = {f.name: f for f in _folds(eegmat.meta)}
    for subject in ("00", "07", "19"):
        k1, k5, k10 = (set(by_name[f"subject-{subject}/shots-{k}/draw-1"].calib)
                       for k in (1, 5, 10))
        assert k1 < k5 < k10


def test_modes_set_the_training_data(eegmat):
    meta = eegmat.meta
    scratch = _folds(meta, mode="from_scratch", n_draws=1)
    cross = _folds(meta, mode="cross_subject_then_calibrate", n_draws=1)
    assert all(len(f.train) == 0 and f.calibration == "from_scratch" for f in scratch)
    # cross-subject training windows = the leave-one-subject-out fold of that subject
    loso = {f.test_subjects: f for f in make_splitter("loso", seed=0).split(meta)}
    for fold in cross:
        ref = loso[fold.test_subjects]
        assert np.array_equal(fold.train, ref.train) and np.array_equal(fold.valid, ref.valid)
    # validation (early stopping) never uses the test subject, in either mode
    for fold in scratch:
        assert fold.test_subjects[0] not in fold.valid_subjects and len(fold.valid)


def test_too_many_shots_is_a_clear_error(eegmat):
    # eegmat has 12 arithmetic windows per subject: k=12 leaves none to test
    with pytest.raises(ValueError, match=r"k=12 needs at least 13 windows.*subject '00'"):
        _folds(eegmat.meta, shots=[12])


@pytest.mark.parametrize("kw, match", [({"shots": [0]}, "shots"), ({"n_draws": 0}, "n_draws"),
                                        ({"mode": "magic"}, "mode")])
def test_bad_parameters_are_clear_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        WithinSubjectFewShot(**kw)


def test_make_splitter_rejects_unknown_protocol_parameters():
    with pytest.raises(ValueError, match=r"Invalid parameter\(s\) \['shot'\]"):
        make_splitter("fewshot", shot=[1])
    with pytest.raises(ValueError, match="Allowed values are"):
        make_splitter("fewshots")
