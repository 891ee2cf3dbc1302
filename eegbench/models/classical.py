"""Classical pipelines (scikit-learn / pyriemann / MNE): no deep learning, strong baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from eegbench.features.precompute import TransformSteps
from eegbench.models.base import BenchmarkModel, SignalSpec


def _covariance_estimators() -> tuple[str, ...]:
    """Names of pyriemann's covariance estimators (``Covariances(estimator=...)``)."""
    try:
        from pyriemann.geometry.covariance import cov_est_functions
    except ImportError:  # pyriemann < 0.12
        try:
            from pyriemann.utils.covariance import cov_est_functions
        except ImportError:  # the names of pyriemann 0.6-0.11
            return ("corr", "cov", "hub", "lwf", "mcd", "oas", "sch", "scm", "stu", "tyl")
    return tuple(sorted(cov_est_functions))


#: pyriemann's covariance estimators: the allowed values of the ``estimator`` parameter of the
#: Riemannian pipelines (checked with the rest of the configuration, before any data load).
COVARIANCE_ESTIMATORS = _covariance_estimators()
CovarianceEstimator = Literal[COVARIANCE_ESTIMATORS]  # type: ignore[valid-type]


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
    """Wrap a scikit-learn pipeline; validation data are unused (no early stopping).

    Parameters
    ----------
    pipeline : Pipeline
        The classifier pipeline, fitted on float64 windows.
    fold_invariant_steps : int
        How many leading steps learn nothing from the data (their ``fit`` only checks
        parameters), e.g. per-window covariances. Their output does not depend on the fold, so
        :func:`eegbench.features.precompute.precompute_fold_invariant` computes it once per
        dataset and :meth:`fit_features` / :meth:`predict_proba_features` fit and apply only the
        remaining steps, which is the same fit as :meth:`fit` on the windows.
    """

    family = "classical"

    def __init__(self, pipeline: Pipeline, fold_invariant_steps: int = 0) -> None:
        if not 0 <= int(fold_invariant_steps) < len(pipeline.steps):
            raise ValueError(f"Invalid value for the 'fold_invariant_steps' parameter. Allowed "
                             f"values are 0 to {len(pipeline.steps) - 1} (the pipeline has "
                             f"{len(pipeline.steps)} steps), but got {fold_invariant_steps}.")
        self.pipeline = pipeline
        self.fold_invariant_steps = int(fold_invariant_steps)

    def _configure(self, signal: SignalSpec, seed: int | None = None) -> None:
        """Set the steps' seed and sampling rate (the only data-independent parameters)."""
        for _, step in self.pipeline.steps:
            params = step.get_params()
            if seed is not None and "random_state" in params:
                step.set_params(random_state=seed)
            if "sfreq" in params:  # e.g. a filter bank needs the windows' sampling rate
                step.set_params(sfreq=signal.sfreq)

    def fit(self, X_train, y_train, X_valid, y_valid, signal: SignalSpec, seed: int):
        """Fit the pipeline on the training windows (float64 copy)."""
        self._configure(signal, seed)
        self.pipeline.fit(np.asarray(X_train, dtype=np.float64), y_train)
        return {}

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return the pipeline's class probabilities."""
        return self.pipeline.predict_proba(np.asarray(X, dtype=np.float64))

    def fold_invariant_transformer(self, signal: SignalSpec, seed: int | None = None
                                   ) -> TransformSteps | None:
        """Return the leading fold-invariant steps, configured for ``signal`` (None if none).

        ``seed`` is accepted for the common interface; these steps draw no random numbers.

        Applied to float64 windows, their output is what :meth:`fit_features` expects.
        """
        if not self.fold_invariant_steps:
            return None
        self._configure(signal)
        head = TransformSteps(self.pipeline.steps[:self.fold_invariant_steps])
        # They learn nothing; fitting them on one blank window only validates their parameters.
        blank = np.zeros((1, signal.n_chans, signal.n_times))
        for _, step in head.steps:
            blank = step.fit(blank).transform(blank)
        return head

    def fit_features(self, F_train, y_train, F_valid, y_valid, signal: SignalSpec,
                     seed: int) -> dict[str, Any]:
        """Fit the steps after the fold-invariant ones on their precomputed output.

        ``F_train`` is :meth:`fold_invariant_transformer` applied to the training windows;
        the fitted pipeline then also predicts from windows (:meth:`predict_proba`).
        """
        head = self.fold_invariant_transformer(signal)
        if head is None:
            raise ValueError(f"{type(self).__name__} declares no fold-invariant steps "
                             "(fold_invariant_steps=0): call fit() on the windows.")
        self._configure(signal, seed)
        self.pipeline[self.fold_invariant_steps:].fit(F_train, y_train)
        # train_seconds then excludes the shared, once-per-dataset feature computation
        return {"fold_invariant_features": "precomputed"}

    def predict_proba_features(self, F: np.ndarray) -> np.ndarray:
        """Return class probabilities from precomputed fold-invariant features."""
        return self.pipeline[self.fold_invariant_steps:].predict_proba(F)

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


def tangent_space_lr(estimator: CovarianceEstimator = "oas", C: float = 1.0,
                     warm_start: bool = False, **_: Any) -> SklearnModel:
    """Build covariance (shrinkage) -> Riemannian tangent space -> LR (pyriemann).

    ``warm_start``: start the tangent space's reference (the Riemannian mean of the training
    covariances) from the previous fit's (:mod:`eegbench.models.riemann`: the same mean to
    pyriemann's tolerance, but no longer bit-identical from run to run).
    """
    from pyriemann.estimation import (
        Covariances,  # pyriemann: heavy, imported when a Riemannian pipeline is built
    )

    from eegbench.models.riemann import (
        WarmStartTangentSpace,  # pyriemann: heavy, imported when a Riemannian pipeline is built
    )

    return SklearnModel(make_pipeline(
        Covariances(estimator=estimator),
        WarmStartTangentSpace(metric="riemann", warm_start=warm_start),
        LogisticRegression(C=C, max_iter=2000, class_weight="balanced"),
    ), fold_invariant_steps=1)  # per-window covariances: computed once per dataset


def csp_lda(n_components: int = 6, **_: Any) -> SklearnModel:
    """Build common spatial patterns (log-variance) -> shrinkage LDA (MNE + scikit-learn)."""
    from mne.decoding import CSP  # mne.decoding: heavy, imported when CSP is built

    return SklearnModel(make_pipeline(
        CSP(n_components=n_components, reg="ledoit_wolf", log=True),
        LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
    ))


def xdawn_tangent_space_lr(nfilter: int = 4, estimator: CovarianceEstimator = "oas",
                           C: float = 1.0, **_: Any) -> SklearnModel:
    """Build xDAWN super-trial covariances -> tangent space -> LR (pyriemann, ERP)."""
    from pyriemann.estimation import (
        XdawnCovariances,  # pyriemann: heavy, imported when a Riemannian pipeline is built
    )
    from pyriemann.tangentspace import (
        TangentSpace,  # pyriemann: heavy, imported when a Riemannian pipeline is built
    )

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


def erp_lda(n_bins: int = 10, **_: Any) -> SklearnModel:
    """Build manual ERP features (binned mean amplitudes) -> scaling -> shrinkage LDA."""
    return SklearnModel(make_pipeline(
        ERPFeatures(n_bins=n_bins), StandardScaler(),
        LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
    ))
