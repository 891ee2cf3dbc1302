"""Regression baselines: tangent space + ridge (``ts_ridge``) and the training-mean reference.

A regressor follows the model contract of :class:`~eegbench.models.base.BenchmarkModel` with
``task = "regression"``: :meth:`SklearnRegressor.predict` returns one number per window
(there are no class probabilities), and :meth:`SklearnRegressor.fit` takes the training
windows' subject ids (``groups``), so that a hyperparameter chosen by internal cross-validation
is chosen across training subjects (never across windows of one subject, never on the test
subject).

- ``ts_ridge``: per-window shrinkage covariances (OAS) -> Riemannian tangent space ->
  standardisation -> :class:`sklearn.linear_model.RidgeCV`. The standardisation and the ridge
  penalty grid ``alphas = logspace(-3, 5, 100)`` are coffeine's defaults for its
  tangent-space regressor (``coffeine.make_filter_bank_regressor``), the models of Sabbagh
  et al. (2020), NeuroImage 222:116893; unlike RidgeCV's default (efficient leave-one-window
  -out), the penalty is selected by grouped K-fold over the training subjects
  (:data:`INNER_FOLDS`, :class:`sklearn.model_selection.GroupKFold`), since the windows of one
  subject share its target.
- ``mean_regressor``: :class:`sklearn.dummy.DummyRegressor` (``strategy="mean"``): the mean
  training target, whatever the signal: the chance-level reference the tables test against.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from eegbench.models.base import SignalSpec
from eegbench.models.classical import CovarianceEstimator, SklearnModel

logger = logging.getLogger(__name__)

#: Folds of the internal, subject-grouped selection of the ridge penalty (fewer with fewer
#: training subjects).
INNER_FOLDS = 5
#: The ridge penalties tried: coffeine's default grid (``np.logspace(-3, 5, 100)``).
RIDGE_ALPHAS = (-3.0, 5.0, 100)


class SklearnRegressor(SklearnModel):
    """Wrap a scikit-learn regression pipeline (one numeric prediction per window).

    A final :class:`~sklearn.linear_model.RidgeCV` step selects its penalty by
    :class:`~sklearn.model_selection.GroupKFold` over the training subjects when ``fit`` is
    given their ids (``groups``); without them (a standalone fit) it keeps RidgeCV's own
    leave-one-window-out selection.
    """

    #: The kind of task the model solves (classifiers: "classification").
    task = "regression"

    def _inner_cv(self, n: int, groups: np.ndarray | None) -> dict[str, Any]:
        """Set the final step's grouped inner folds; return what the fit report records."""
        last = self.pipeline.steps[-1][1]
        if "cv" not in last.get_params():
            return {}
        if groups is None:
            last.set_params(cv=None)
            return {"inner_cv": "RidgeCV leave-one-window-out (no subject groups given)"}
        groups = np.asarray(groups).astype(str)
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries for {n} training windows.")
        k = min(INNER_FOLDS, len(np.unique(groups)))
        if k < 2:
            raise ValueError(f"The ridge penalty is selected across training subjects, but the "
                             f"training windows come from {k} subject; at least 2 are needed.")
        folds = list(GroupKFold(n_splits=k).split(np.zeros(n), groups=groups))
        last.set_params(cv=folds)
        return {"inner_cv": f"GroupKFold({k}) over the training subjects"}

    def _report(self, inner: dict[str, Any]) -> dict[str, Any]:
        last = self.pipeline.steps[-1][1]
        alpha = getattr(last, "alpha_", None)
        out = dict(inner)
        if alpha is not None:
            out["alpha"] = float(alpha)
            last.set_params(cv=None)  # the fitted model keeps no fold indices
        return out

    def fit(self, X_train, y_train, X_valid, y_valid, signal: SignalSpec, seed: int,
            groups: np.ndarray | None = None) -> dict[str, Any]:
        """Fit on the training windows; ``groups``: their subject ids (inner selection)."""
        self._configure(signal, seed)
        inner = self._inner_cv(len(X_train), groups)
        self.pipeline.fit(np.asarray(X_train, dtype=np.float64),
                          np.asarray(y_train, dtype=np.float64))
        return self._report(inner)

    def fit_features(self, F_train, y_train, F_valid, y_valid, signal: SignalSpec, seed: int,
                     groups: np.ndarray | None = None) -> dict[str, Any]:
        """Fit the steps after the fold-invariant ones on their precomputed output."""
        head = self.fold_invariant_transformer(signal)
        if head is None:
            raise ValueError(f"{type(self).__name__} declares no fold-invariant steps "
                             "(fold_invariant_steps=0): call fit() on the windows.")
        self._configure(signal, seed)
        inner = self._inner_cv(len(F_train), groups)
        self.pipeline[self.fold_invariant_steps:].fit(F_train, np.asarray(y_train, np.float64))
        return {**self._report(inner), "fold_invariant_features": "precomputed"}

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Return one numeric prediction per window, shape (n_windows,)."""
        return np.asarray(self.pipeline.predict(np.asarray(X, dtype=np.float64)),
                          dtype=np.float64).reshape(len(X))

    def predict_features(self, F: np.ndarray) -> np.ndarray:
        """Return predictions from precomputed fold-invariant features."""
        out = self.pipeline[self.fold_invariant_steps:].predict(F)
        return np.asarray(out, dtype=np.float64).reshape(len(F))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Not defined: a regressor has no class probabilities (use :meth:`predict`)."""
        raise TypeError(f"{type(self).__name__} is a regression model: it predicts numbers "
                        "(predict), not class probabilities.")

    def predict_proba_features(self, F: np.ndarray) -> np.ndarray:
        """Not defined: a regressor has no class probabilities."""
        return self.predict_proba(F)


def tangent_space_ridge(estimator: CovarianceEstimator = "oas", **_: Any) -> SklearnRegressor:
    """Build covariance (shrinkage) -> tangent space -> scaling -> RidgeCV (pyriemann)."""
    from pyriemann.estimation import (
        Covariances,  # pyriemann: heavy, imported when a Riemannian pipeline is built
    )
    from sklearn.linear_model import RidgeCV

    from eegbench.models.riemann import WarmStartTangentSpace

    low, high, n = RIDGE_ALPHAS
    return SklearnRegressor(make_pipeline(
        Covariances(estimator=estimator),
        WarmStartTangentSpace(metric="riemann"),
        StandardScaler(),
        RidgeCV(alphas=np.logspace(low, high, int(n)), scoring="neg_mean_squared_error"),
    ), fold_invariant_steps=1)  # per-window covariances: computed once per dataset


class ChannelMeans(BaseEstimator, TransformerMixin):
    """Each window's mean per channel (the reference's features; nothing is learned)."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> ChannelMeans:
        """Record the number of channels."""
        self.n_channels_ = int(np.shape(X)[1])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return (n_windows, n_channels) means over time."""
        return np.asarray(X, dtype=np.float64).mean(axis=-1)


class _Mean(DummyRegressor):
    """DummyRegressor(strategy="mean") that accepts windows (it never reads them)."""

    def __init__(self) -> None:
        super().__init__(strategy="mean")

    def fit(self, X, y, sample_weight=None):
        return super().fit(np.zeros((len(y), 1)), y, sample_weight)

    def predict(self, X, return_std=False):
        return super().predict(np.zeros((len(X), 1)), return_std)


def mean_regressor(**_: Any) -> SklearnRegressor:
    """Build the training-mean reference: every window predicted as the mean training target.

    The channel means (:class:`ChannelMeans`) are its features (``encode``); the prediction
    never depends on them.
    """
    pipeline: Pipeline = make_pipeline(ChannelMeans(), _Mean())
    return SklearnRegressor(pipeline)
