"""Label-free subject alignment on the fake dataset's windows (subjects with their own channel
gains)."""

from __future__ import annotations

import numpy as np
import pytest
from pyriemann.utils.covariance import covariances
from pyriemann.utils.distance import distance_riemann
from pyriemann.utils.mean import mean_riemann

from eegbench.protocols.alignment import align_subjects


@pytest.mark.parametrize("method", ["euclidean", "riemannian"])
def test_each_subject_is_recentred_without_labels(fake_windows, method):
    meta = fake_windows.meta[fake_windows.meta["subject"].isin(["00", "01", "02"])]
    X = np.asarray(fake_windows.X[meta.index.to_numpy()])
    aligned = align_subjects(X, meta.reset_index(drop=True), method)
    assert aligned.shape == X.shape and aligned.dtype == np.float32
    # labels are not read: shuffling them changes nothing
    shuffled = meta.reset_index(drop=True).assign(label=np.random.default_rng(0).permutation(
        meta["label"].to_numpy()))
    np.testing.assert_array_equal(aligned, align_subjects(X, shuffled, method))
    # the subjects' mean covariances (Riemannian means of shrinkage covariances) move closer
    def mean_cov(data, subject):
        idx = np.flatnonzero(meta["subject"].to_numpy() == subject)
        return mean_riemann(covariances(np.asarray(data[idx], np.float64), estimator="oas"))

    before = distance_riemann(mean_cov(X, "00"), mean_cov(X, "01"))
    after = distance_riemann(mean_cov(aligned, "00"), mean_cov(aligned, "01"))
    assert after < (0.6 if method == "riemannian" else 0.9) * before


def test_unknown_method_is_a_clear_error(fake_windows):
    with pytest.raises(ValueError, match="protocol.align.*euclidean"):
        align_subjects(np.asarray(fake_windows.X[:5]), fake_windows.meta.iloc[:5], "magic")
