"""Same config + seed -> same metrics on CPU (real eegmat windows, EEGNet and ts_lr)."""

from __future__ import annotations

import numpy as np

from eegbench.metrics import compute_metrics
from eegbench.models.base import SignalSpec, build_model
from eegbench.protocols.splitters import LeaveOneSubjectOut

TRAINER = {"max_epochs": 2, "batch_size": 32, "patience": 2, "lr": 1e-3}


def _first_fold(ds, subjects=("00", "01", "02", "03")):
    keep = np.flatnonzero(ds.meta["subject"].isin(subjects))
    meta = ds.meta.iloc[keep].reset_index(drop=True)
    fold = next(iter(LeaveOneSubjectOut(n_valid_subjects=1, seed=0).split(meta)))
    return keep, fold


def _score(ds, name, seed, **params):
    keep, fold = _first_fold(ds)
    X, y = ds.X[keep], ds.y[keep]
    model = build_model(name, **params)
    model.fit(X[fold.train], y[fold.train], X[fold.valid], y[fold.valid],
              SignalSpec.from_info(ds.info, X.shape[-1]), seed)
    proba = model.predict_proba(X[fold.test])
    return proba, compute_metrics(y[fold.test], proba)


def test_eegnet_is_deterministic_for_a_seed(eegmat):
    p1, m1 = _score(eegmat, "eegnet", 0, trainer=TRAINER)
    p2, m2 = _score(eegmat, "eegnet", 0, trainer=TRAINER)
    p3, _ = _score(eegmat, "eegnet", 1, trainer=TRAINER)
    np.testing.assert_array_equal(p1, p2)
    assert m1 == m2
    assert not np.array_equal(p1, p3), "a different seed should change the model"


def test_classical_pipeline_is_deterministic(eegmat):
    p1, m1 = _score(eegmat, "ts_lr", 0)
    p2, m2 = _score(eegmat, "ts_lr", 0)
    np.testing.assert_array_equal(p1, p2)
    assert m1 == m2


def test_filter_bank_features_are_band_limited_on_real_ssvep(data_root, cache_root):
    """On the real SSVEP windows, each class's 13/17/21 Hz band carries the most power."""
    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec
    from eegbench.models.filterbank import FilterBankTangentSpace

    ds = load_windows(load_recipe("ssvep_exo_kalunga2016"), data_root, PreprocessSpec(),
                      cache_root)
    bands = [(12.0, 14.0), (16.0, 18.0), (20.0, 22.0)]
    fb = FilterBankTangentSpace(sfreq=ds.info["sfreq"], bands=bands)
    X = np.asarray(ds.X, dtype=np.float64)
    powers = np.stack([np.trace(c, axis1=1, axis2=2) for c in fb._band_covariances(X)], 1)
    for name, band in (("13Hz", 0), ("17Hz", 1), ("21Hz", 2)):
        cls = ds.classes.index(name)
        mine = powers[ds.y == cls, band].mean()
        others = powers[(ds.y != cls) & (ds.y != ds.classes.index("rest")), band].mean()
        assert mine > others, f"class {name}: band power {mine} not above others {others}"
    feats = fb.fit(X[:100]).transform(X[:100])
    assert feats.shape == (100, 3 * 8 * 9 // 2)
    assert fb.references_.shape == (3, 8, 8)
