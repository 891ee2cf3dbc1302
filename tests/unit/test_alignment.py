"""Label-free subject alignment on real eegmat windows (eegbench/protocols/alignment.py)."""

from __future__ import annotations

import numpy as np
import pytest
from pyriemann.utils.covariance import covariances
from pyriemann.utils.distance import distance_riemann
from pyriemann.utils.mean import mean_euclid, mean_riemann

from eegbench.config import Job
from eegbench.evaluation.identity import identity_config
from eegbench.protocols.alignment import (
    AlignmentSpec,
    align_subjects,
    calibration_mask,
    prepare,
    recentre_covariances,
)
from eegbench.protocols.splitters import make_splitter

SUBJECTS = ["00", "01", "02"]


@pytest.fixture(scope="module")
def three(eegmat):
    """Windows, metadata and info of three real eegmat subjects."""
    meta = eegmat.meta[eegmat.meta["subject"].isin(SUBJECTS)]
    X = np.asarray(eegmat.X[meta.index.to_numpy()], dtype=np.float64)
    return X, meta.reset_index(drop=True), eegmat.info


def _window_s(X, info):
    return X.shape[-1] / float(info["sfreq"])


def _shuffled(meta):
    labels = np.random.default_rng(0).permutation(meta["label"].to_numpy())
    return meta.assign(label=labels, label_name=np.where(labels == 1, "arithmetic", "rest"))


def _subject_idx(meta, subject):
    return np.flatnonzero(meta["subject"].to_numpy() == subject)


@pytest.mark.parametrize("reference", ["all", "calibration"])
def test_euclidean_alignment_makes_each_reference_mean_covariance_the_identity(three, reference):
    X, meta, info = three
    spec = AlignmentSpec("euclidean", reference)
    mask = (calibration_mask(meta, spec.calibration_s, _window_s(X, info))
            if reference == "calibration" else np.ones(len(meta), bool))
    # He & Wu's sample covariance: the aligned reference windows' mean covariance is I exactly
    aligned = align_subjects(X, meta, "euclidean", estimator="scm", reference=mask)
    for subject in SUBJECTS:
        ref = np.intersect1d(_subject_idx(meta, subject), np.flatnonzero(mask))
        mean = mean_euclid(covariances(aligned[ref].astype(np.float64), estimator="scm"))
        np.testing.assert_allclose(mean, np.eye(X.shape[1]), atol=1e-4)
        before = mean_euclid(covariances(X[ref], estimator="scm"))
        assert np.abs(before - np.eye(X.shape[1])).max() > 1.0  # it was far from I (uV^2)


def test_recentre_makes_each_subject_riemannian_mean_the_identity(three):
    X, meta, _ = three
    covs = covariances(X, estimator="oas")
    banded = np.stack([covs, covariances(X[..., ::2], estimator="oas")], axis=1)
    for F in (covs, banded):
        out = recentre_covariances(F, meta)
        assert out.shape == F.shape
        for subject in SUBJECTS:
            idx = _subject_idx(meta, subject)
            for band in range(1 if F.ndim == 3 else F.shape[1]):
                sub = out[idx] if F.ndim == 3 else out[idx, band]
                assert distance_riemann(mean_riemann(sub), np.eye(X.shape[1])) < 1e-5
    # re-centring differs from re-estimating shrinkage covariances of whitened signals
    whitened = covariances(align_subjects(X, meta, "riemannian").astype(np.float64), "oas")
    assert np.abs(whitened - recentre_covariances(covs, meta)).max() > 1e-3


def test_no_label_is_read(three):
    X, meta, info = three
    shuffled = _shuffled(meta)
    assert (shuffled["label"] != meta["label"]).any()
    for method in ("euclidean", "riemannian"):
        for reference in ("all", "calibration"):
            spec = AlignmentSpec(method, reference)
            a, align_a = prepare(X, meta, info, spec)
            b, align_b = prepare(X, shuffled, info, spec)
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(align_a.excluded, align_b.excluded)
    covs = covariances(X, estimator="oas")
    np.testing.assert_array_equal(recentre_covariances(covs, meta),
                                  recentre_covariances(covs, shuffled))


def test_calibration_windows_are_never_scored_trained_or_validated(three):
    X, meta, info = three
    _, alignment = prepare(X, meta, info, AlignmentSpec("euclidean", "calibration"))
    window_s = _window_s(X, info)
    expected = ((meta["run"].astype(str) == "1")
                & (meta["onset_s"] + window_s <= 60.0)).to_numpy()  # first 60 s of the rest run
    np.testing.assert_array_equal(alignment.excluded, expected)
    assert expected.sum() == len(SUBJECTS) * int(60 // window_s)
    folds = list(make_splitter("loso", seed=0, n_valid_subjects=1).split(meta))
    for raw, fold in zip(folds, alignment.drop_excluded(folds), strict=True):
        for part in (fold.train, fold.valid, fold.test):
            assert not alignment.excluded[part].any()
        # the test fold scores every window of its subject except the calibration segment
        np.testing.assert_array_equal(fold.test, raw.test[~expected[raw.test]])
        assert len(fold.test) == len(raw.test) - int(60 // window_s)
    # the default reference (all) leaves every fold as it is
    _, everything = prepare(X, meta, info, AlignmentSpec("euclidean"))
    assert all(np.array_equal(a.test, b.test)
               for a, b in zip(folds, everything.drop_excluded(folds), strict=True))


def test_calibration_segment_errors_name_the_subject(three):
    X, meta, info = three
    with pytest.raises(ValueError, match="subject 00: no whole 5-s window.*align_calibration_s"):
        calibration_mask(meta, 2.0, _window_s(X, info))
    one = meta[meta["subject"] == "00"].head(3)
    with pytest.raises(ValueError, match="subject 00 has 3 window.*none would be left"):
        calibration_mask(one, 60.0, _window_s(X, info))


def test_recentre_refuses_a_model_without_covariance_features(three):
    X, meta, info = three
    _, alignment = prepare(X, meta, info, AlignmentSpec("riemannian_recentre"))
    with pytest.raises(ValueError, match="ts_lr.*fb_ts_lr.*'eegnet' has no covariance"):
        alignment.recentre_features(None, meta, "eegnet")
    with pytest.raises(ValueError, match="has no covariance"):
        alignment.recentre_features(np.zeros((len(meta), 8)), meta, "cbramod")
    covs = covariances(X, estimator="oas")
    assert alignment.recentre_features(covs, meta, "ts_lr").shape == covs.shape


def test_invalid_values_are_clear_errors():
    with pytest.raises(ValueError, match="protocol.align.*euclidean.*riemannian_recentre"):
        AlignmentSpec("magic")
    with pytest.raises(ValueError, match="protocol.align_reference.*calibration"):
        AlignmentSpec("euclidean", "first")
    with pytest.raises(ValueError, match="protocol.align_calibration_s"):
        AlignmentSpec("euclidean", "calibration", 0.0)


def test_default_alignment_keys_keep_the_config_identity():
    base = {"dataset": {"name": "d"}, "preprocess": {}, "model": {"name": "m"}, "trainer": {}}
    plain = {"name": "loso", "n_valid_subjects": 2}
    defaults = {**plain, "align": None, "align_reference": "all", "align_calibration_s": 60.0}
    calib = {**defaults, "align": "euclidean", "align_reference": "calibration"}
    ident = [identity_config(Job(spec=None, resolved={**base, "protocol": p}))["protocol"]
             for p in (plain, defaults, calib)]
    assert ident[0] == ident[1] == plain
    assert ident[2] == {**plain, "align": "euclidean", "align_reference": "calibration"}
