"""Warm-started Riemannian means give the cold means (to pyriemann's tolerance) on the folds of
the fake dataset (subjects with their own channel gains)."""

from __future__ import annotations

import numpy as np
import pytest
from pyriemann.estimation import Covariances
from pyriemann.geometry.distance import distance_riemann
from pyriemann.geometry.mean import mean_riemann

from eegbench.models.base import SignalSpec, build_model
from eegbench.models.filterbank import BandTangentSpace, FilterBankCovariances
from eegbench.models.riemann import clear_warm_starts, warm_riemann_mean

SUBJECTS = ["00", "01", "02", "03", "04", "05"]
#: pyriemann stops at a gradient norm of 1e-8, so two converged means lie ~1e-8 apart; the
#: means of two different folds lie ~1e-2 apart.
SAME_MEAN = 1e-6


@pytest.fixture(scope="module")
def six_subjects(fake_windows):
    ds = fake_windows
    idx = np.flatnonzero(ds.meta["subject"].isin(SUBJECTS).to_numpy())
    X = np.asarray(ds.X[idx], dtype=np.float64)
    return X, ds.y[idx], ds.meta["subject"].astype(str).to_numpy()[idx], SignalSpec.from_info(
        ds.info, ds.X.shape[-1])


def test_warm_mean_equals_the_cold_mean_in_every_fold(six_subjects):
    X, _, subjects, _ = six_subjects
    covs = Covariances("oas").transform(X)
    clear_warm_starts()
    distances_between_folds = []
    previous = None
    for i, test in enumerate(SUBJECTS):
        train = covs[subjects != test]
        cold = mean_riemann(train)
        warm, used = warm_riemann_mean(train, key="test")
        assert used == (i > 0)  # every fold after the first starts from the previous mean
        assert distance_riemann(cold, warm) < SAME_MEAN
        if previous is not None:
            distances_between_folds.append(distance_riemann(previous, cold))
        previous = cold
    # the check is meaningful: different folds have clearly different means
    assert min(distances_between_folds) > 100 * SAME_MEAN


def test_ts_lr_folds_identical_with_warm_starts(six_subjects):
    X, y, subjects, signal = six_subjects
    clear_warm_starts()
    for test in SUBJECTS[:4]:
        train, held_out = subjects != test, subjects == test
        probas = []
        for warm in (False, True):
            model = build_model("ts_lr", warm_start=warm)
            model.fit(X[train], y[train], X[:0], y[:0], signal, seed=0)
            probas.append(model.predict_proba(X[held_out]))
        np.testing.assert_allclose(probas[1], probas[0], atol=1e-6)
        assert (probas[1].argmax(1) == probas[0].argmax(1)).all()


def test_filter_bank_tangent_space_identical_with_warm_starts(six_subjects):
    X, _, subjects, signal = six_subjects
    covs = FilterBankCovariances(sfreq=signal.sfreq, bands=((8, 12), (16, 20))).transform(X)
    clear_warm_starts()
    for test in SUBJECTS[:3]:
        train = covs[subjects != test]
        cold = BandTangentSpace(warm_start=False).fit_transform(train)
        warm_space = BandTangentSpace(warm_start=True)
        warm = warm_space.fit_transform(train)
        assert all(ts.warm_started_ == (test != SUBJECTS[0])
                   for ts in warm_space.tangent_spaces_)
        np.testing.assert_allclose(warm, cold, atol=1e-6 * np.abs(cold).max())
