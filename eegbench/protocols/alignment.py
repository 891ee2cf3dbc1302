"""Label-free subject alignment: re-centre each subject's windows on its own mean covariance.

Cross-subject shift is largely a change of each subject's spatial covariance; whitening every
subject's windows by the inverse square root of a reference covariance computed from that
subject's *unlabelled* windows puts all subjects' mean covariance at the identity:

* ``euclidean``: reference = arithmetic mean of the window covariances (Euclidean alignment,
  He & Wu 2020, IEEE TBME 67(2):399-410);
* ``riemannian``: reference = Riemannian (affine-invariant) mean (re-centering, Zanini et al.
  2018, IEEE TBME 65(5):1107-1116).

No label is used, so aligning the test subject on its own windows is allowed under
leave-one-subject-out (the test subject's recordings are available, their labels are not).
Covariances and means come from pyriemann.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from pyriemann.utils.base import invsqrtm
from pyriemann.utils.covariance import covariances
from pyriemann.utils.mean import mean_euclid, mean_riemann

logger = logging.getLogger(__name__)

METHODS = ("euclidean", "riemannian")


def reference_covariance(X: np.ndarray, method: str, estimator: str = "oas") -> np.ndarray:
    """Return the reference covariance of windows ``X`` (n_windows, n_channels, n_times)."""
    if method not in METHODS:
        raise ValueError(f"Invalid value for the 'protocol.align' parameter. Allowed values are "
                         f"{list(METHODS)} or null, but got {method!r}.")
    covs = covariances(np.asarray(X, dtype=np.float64), estimator=estimator)
    return mean_euclid(covs) if method == "euclidean" else mean_riemann(covs)


def align_subjects(X: np.ndarray, meta: pd.DataFrame, method: str,
                   estimator: str = "oas") -> np.ndarray:
    """Return a float32 copy of ``X`` with every subject re-centred on its own reference.

    Parameters
    ----------
    X : ndarray, shape (n_windows, n_channels, n_times)
        Windows (any units; the alignment makes them unit-free).
    meta : DataFrame
        Metadata with a ``subject`` column (labels are not read).
    method : {"euclidean", "riemannian"}
        Mean used for the reference covariance.
    estimator : str
        pyriemann covariance estimator of each window (``oas``: shrinkage, well conditioned
        for short windows).
    """
    out = np.empty(X.shape, dtype=np.float32)
    subjects = meta["subject"].astype(str).to_numpy()
    for subject in np.unique(subjects):
        idx = np.flatnonzero(subjects == subject)
        W = invsqrtm(reference_covariance(X[idx], method, estimator))
        out[idx] = np.einsum("ij,njt->nit", W, np.asarray(X[idx], dtype=np.float64))
    logger.info("aligned %d subject(s) (%s re-centering, no labels used)",
                len(np.unique(subjects)), method)
    return out
