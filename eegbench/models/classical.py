"""Classical pipelines (scikit-learn / pyriemann / MNE): no deep learning, strong baselines."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

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
            if "random_state" in step.get_params():
                step.set_params(random_state=seed)
        self.pipeline.fit(np.asarray(X_train, dtype=np.float64), y_train)
        return {}

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return the pipeline's class probabilities."""
        return self.pipeline.predict_proba(np.asarray(X, dtype=np.float64))

    def n_parameters(self) -> int:
        """Return the number of fitted numbers in the pipeline."""
        return _fitted_size(self.pipeline)


@MODELS.register("ts_lr")
def tangent_space_lr(estimator: str = "oas", C: float = 1.0, **_: Any) -> SklearnModel:
    """Covariance (shrinkage) -> Riemannian tangent space -> logistic regression (pyriemann)."""
    from pyriemann.estimation import Covariances
    from pyriemann.tangentspace import TangentSpace

    return SklearnModel(make_pipeline(
        Covariances(estimator=estimator), TangentSpace(metric="riemann"),
        LogisticRegression(C=C, max_iter=2000, class_weight="balanced"),
    ))


@MODELS.register("csp_lda")
def csp_lda(n_components: int = 6, **_: Any) -> SklearnModel:
    """Common spatial patterns (log-variance) -> shrinkage LDA (MNE + scikit-learn)."""
    from mne.decoding import CSP

    return SklearnModel(make_pipeline(
        CSP(n_components=n_components, reg="ledoit_wolf", log=True),
        LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
    ))
