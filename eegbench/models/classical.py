"""Classical pipelines (scikit-learn / pyriemann / MNE): no deep learning, strong baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from eegbench.models.base import MODELS, BenchmarkModel, SignalSpec


def _fitted_size(pipeline: Pipeline) -> int:
    """Count the numbers a fitted pipeline learned (its array attributes ending in ``_``)."""
    total = 0
    for _, step in pipeline.steps:
        for attr, value in vars(step).items():
            if attr.endswith("_") and not attr.startswith("_") and isinstance(value, np.ndarray):
                if np.issubdtype(value.dtype, np.number) and attr not in {"classes_"}:
                    total += value.size
    return int(total)


class SklearnModel(BenchmarkModel):
    """Wrap a scikit-learn pipeline; validation data are unused (no early stopping)."""

    family = "classical"

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def fit(self, X_train, y_train, X_valid, y_valid, signal: SignalSpec, seed: int):
        """Fit the pipeline on the training windows (float64 copy)."""
        for _, step in self.pipeline.steps:
            params = step.get_params()
            if "random_state" in params:
                step.set_params(random_state=seed)
            if "sfreq" in params:  # e.g. a filter bank needs the windows' sampling rate
                step.set_params(sfreq=signal.sfreq)
        self.pipeline.fit(np.asarray(X_train, dtype=np.float64), y_train)
        return {}

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return the pipeline's class probabilities."""
        return self.pipeline.predict_proba(np.asarray(X, dtype=np.float64))

    def n_parameters(self) -> int:
        """Return the number of fitted numbers in the pipeline."""
        return _fitted_size(self.pipeline)

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Return the features the final estimator sees (all steps but the last)."""
        return self.pipeline[:-1].transform(np.asarray(X, dtype=np.float64))

    def save(self, path: str | Path) -> Path:
        """Pickle the fitted pipeline with joblib."""
        joblib.dump(self.pipeline, path)
        return Path(path)

    def load(self, path: str | Path) -> SklearnModel:
        """Load a pipeline saved by :meth:`save`."""
        self.pipeline = joblib.load(path)
        return self


@MODELS.register("ts_lr")
def tangent_space_lr(estimator: str = "oas", C: float = 1.0, **_: Any) -> SklearnModel:
    """Build covariance (shrinkage) -> Riemannian tangent space -> LR (pyriemann)."""
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace

    return SklearnModel(make_pipeline(
        Covariances(estimator=estimator), TangentSpace(metric="riemann"),
        LogisticRegression(C=C, max_iter=2000, class_weight="balanced"),
    ))


@MODELS.register("csp_lda")
def csp_lda(n_components: int = 6, **_: Any) -> SklearnModel:
    """Build common spatial patterns (log-variance) -> shrinkage LDA (MNE + scikit-learn)."""
    from mne.decoding import CSP

    return SklearnModel(make_pipeline(
        CSP(n_components=n_components, reg="ledoit_wolf", log=True),
        LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
    ))


@MODELS.register("xdawn_ts_lr")
def xdawn_tangent_space_lr(nfilter: int = 4, estimator: str = "oas", C: float = 1.0,
                           **_: Any) -> SklearnModel:
    """Build xDAWN super-trial covariances -> tangent space -> LR (pyriemann, ERP)."""
    from pyriemann.estimation import XdawnCovariances
    from pyriemann.tangentspace import TangentSpace

    return SklearnModel(make_pipeline(
        XdawnCovariances(nfilter=nfilter, estimator=estimator), TangentSpace(metric="riemann"),
        LogisticRegression(C=C, max_iter=2000, class_weight="balanced"),
    ))


class ERPFeatures(BaseEstimator, TransformerMixin):
    """Manual ERP features: each channel's mean amplitude in ``n_bins`` equal time bins.

    Parameters
    ----------
    n_bins : int
        Number of consecutive time bins per channel (features = channels x bins).
    """

    def __init__(self, n_bins: int = 10) -> None:
        self.n_bins = n_bins

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> ERPFeatures:
        """Check the window length (nothing is learned)."""
        if X.shape[-1] < self.n_bins:
            raise ValueError(f"Windows have {X.shape[-1]} samples, fewer than n_bins="
                             f"{self.n_bins}.")
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return (n_windows, n_channels * n_bins) bin means."""
        edges = np.linspace(0, X.shape[-1], self.n_bins + 1).astype(int)
        bins = [X[..., a:b].mean(axis=-1) for a, b in zip(edges[:-1], edges[1:], strict=True)]
        return np.stack(bins, axis=-1).reshape(len(X), -1)


@MODELS.register("erp_lda")
def erp_lda(n_bins: int = 10, **_: Any) -> SklearnModel:
    """Build manual ERP features (binned mean amplitudes) -> scaling -> shrinkage LDA."""
    return SklearnModel(make_pipeline(
        ERPFeatures(n_bins=n_bins), StandardScaler(),
        LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
    ))
