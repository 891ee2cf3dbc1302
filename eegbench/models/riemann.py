"""Warm-started Riemannian means for tangent-space pipelines, fold after fold.

A tangent-space classifier refits its reference point, the Riemannian (Karcher) mean of the
training covariances (:func:`pyriemann.geometry.mean.mean_riemann`), in every fold. Consecutive
folds of a cross-validation share most of their training windows, so the previous fold's
mean is a much closer starting point than pyriemann's default (the Euclidean mean).
:class:`WarmStartTangentSpace` starts each fit from the last mean it computed for the same
key (and matrix size), with pyriemann's own algorithm and stopping rule (tolerance ``1e-8``
on the gradient norm, 50 iterations at most), so the result is the same mean to that
tolerance. If a warm start does not converge, the fit is repeated from pyriemann's default
start. The start point is process-local state: it never changes a result beyond the mean's
tolerance, and a cold start (first fold, a resumed run) gives the same result to that
tolerance, but not bit for bit: results then depend on which folds ran before in the same
process. That is why ``ts_lr`` and ``fb_ts_lr`` leave it off unless
``model.params.warm_start=true``.

It saves little: pyriemann's iteration converges linearly (on eegmat each iteration shrinks
the gradient norm about 7- to 10-fold), so a start 25 times closer (gradient norm 0.14
instead of 3.6) saves about one iteration of the nine needed from the Euclidean mean: a
few percent of an fb_ts_lr fold on eegmat (``benchmarks/fold_invariant_speed.py`` prints
the times).
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np
from pyriemann.geometry.mean import mean_riemann
from pyriemann.geometry.tangentspace import tangent_space
from pyriemann.tangentspace import TangentSpace

_last_means: dict[tuple[str, int], np.ndarray] = {}
_lock = threading.Lock()


def clear_warm_starts() -> None:
    """Forget every remembered mean (the next fits start cold)."""
    with _lock:
        _last_means.clear()


def warm_riemann_mean(X: np.ndarray, key: str = "",
                      sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, bool]:
    """Return the Riemannian mean of ``X`` and whether a warm start was used.

    Parameters
    ----------
    X : ndarray, shape (n_matrices, n, n)
        SPD matrices.
    key : str
        Which remembered mean to start from (e.g. one per frequency band); the mean of
        this fit replaces it.
    sample_weight : ndarray, optional
        Weights of the matrices (pyriemann's default: equal).
    """
    slot = (str(key), int(X.shape[-1]))
    with _lock:
        init = _last_means.get(slot)
    mean = None
    if init is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mean = mean_riemann(X, init=init, sample_weight=sample_weight)
        if any("Convergence not reached" in str(w.message) for w in caught):
            mean = None  # start over from pyriemann's default start point
    warm = mean is not None
    if mean is None:
        mean = mean_riemann(X, sample_weight=sample_weight)
    with _lock:
        _last_means[slot] = np.array(mean, copy=True)
    return mean, warm


class WarmStartTangentSpace(TangentSpace):
    """pyriemann's :class:`~pyriemann.tangentspace.TangentSpace`, its mean warm-started.

    Parameters
    ----------
    metric : str
        As pyriemann's; only ``"riemann"`` is warm-started (other metrics fit as pyriemann).
    tsupdate : bool
        As pyriemann's.
    warm_start : bool
        Start the mean from the last one computed under ``warm_start_key``.
    warm_start_key : str
        Name of the remembered mean (e.g. ``"band3"`` for a filter bank's fourth band).
    """

    def __init__(self, metric: str = "riemann", tsupdate: bool = False,
                 warm_start: bool = True, warm_start_key: str = "") -> None:
        super().__init__(metric=metric, tsupdate=tsupdate)
        self.warm_start = warm_start
        self.warm_start_key = warm_start_key

    def fit(self, X: np.ndarray, y: Any = None,
            sample_weight: np.ndarray | None = None) -> WarmStartTangentSpace:
        """Fit the reference point (the Riemannian mean of ``X``)."""
        if not self.warm_start or self.metric != "riemann":
            return super().fit(X, y, sample_weight=sample_weight)
        self._metric_mean, self._metric_map = "riemann", "riemann"
        self.reference_, self.warm_started_ = warm_riemann_mean(
            X, self.warm_start_key, sample_weight)
        return self

    def fit_transform(self, X: np.ndarray, y: Any = None,
                      sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Fit the reference point and return the tangent vectors of ``X``."""
        if not self.warm_start or self.metric != "riemann":
            return super().fit_transform(X, y, sample_weight=sample_weight)
        self.fit(X, y, sample_weight=sample_weight)
        return tangent_space(X, self.reference_, metric=self._metric_map)
