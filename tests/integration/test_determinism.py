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
