"""Filter-bank Riemannian features: one tangent space per frequency band (e.g. for SSVEP).

The pipeline is split where the fold begins to matter: :class:`FilterBankCovariances` (band-pass
each window, one shrinkage covariance per band) learns nothing from the data, so its output can
be computed once for a whole dataset and reused by every fold (see
:mod:`eegbench.features.precompute`); :class:`BandTangentSpace` fits one Riemannian reference
point per band on the training windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.signal import butter, sosfiltfilt
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eegbench.models.classical import CovarianceEstimator, SklearnModel

#: Default bands (Hz): 4 Hz wide from 4 to 40 Hz, covering the alpha/beta range and SSVEP
#: stimulation frequencies and their harmonics below the usual 45 Hz low-pass.
DEFAULT_BANDS: tuple[tuple[float, float], ...] = tuple((f, f + 4.0) for f in range(4, 40, 4))


class FilterBankCovariances(TransformerMixin, BaseEstimator):
    """Shrinkage covariance of each window in each pass band (stateless: ``fit`` learns nothing).

    Parameters
    ----------
    sfreq : float
        Sampling rate of the windows (set by :class:`SklearnModel` from the dataset).
    bands : sequence of (low, high)
        Pass bands in Hz (zero-phase 4th-order Butterworth, ``sosfiltfilt``). Bands whose upper
        edge is not below the Nyquist frequency are left out.
    estimator : str
        Covariance estimator of :class:`pyriemann.estimation.Covariances` (shrinkage).
    """

    def __init__(self, sfreq: float = 128.0,
                 bands: Sequence[Sequence[float]] = DEFAULT_BANDS, estimator: str = "oas"):
        self.sfreq = sfreq
        self.bands = bands
        self.estimator = estimator

    def usable_bands(self) -> list[tuple[float, float]]:
        """Return the bands below the Nyquist frequency (an error when there are none)."""
        nyquist = self.sfreq / 2.0
        usable = [(float(lo), float(hi)) for lo, hi in self.bands if hi < nyquist]
        if not usable:
            raise ValueError(f"Invalid value for the 'bands' parameter: no band lies below the "
                             f"Nyquist frequency {nyquist} Hz, got {list(self.bands)}.")
        return usable

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> FilterBankCovariances:
        """Check the bands against the sampling rate (nothing is learned)."""
        self.usable_bands()
        return self

    def band_covariances(self, X: np.ndarray) -> list[np.ndarray]:
        """Return one (n_windows, n_channels, n_channels) covariance array per usable band."""
        from pyriemann.estimation import (
            Covariances,  # pyriemann: heavy, imported when a Riemannian pipeline is built
        )

        out = []
        for lo, hi in self.usable_bands():
            sos = butter(4, [lo, hi], btype="bandpass", fs=self.sfreq, output="sos")
            out.append(Covariances(estimator=self.estimator).transform(
                sosfiltfilt(sos, X, axis=-1)))
        return out

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return (n_windows, n_bands, n_channels, n_channels) covariances."""
        return np.stack(self.band_covariances(X), axis=1)


class BandTangentSpace(TransformerMixin, BaseEstimator):
    """Per-band Riemannian tangent space of (n_windows, n_bands, C, C) covariances.

    Each band's covariances are mapped to the tangent space at that band's Riemannian mean
    (fitted on the training windows); the tangent vectors of all bands are concatenated.

    Parameters
    ----------
    warm_start : bool
        Start each band's mean from the previous fit's (same result to pyriemann's tolerance,
        not bit-identical from run to run).
    """

    def __init__(self, warm_start: bool = False) -> None:
        self.warm_start = warm_start

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> BandTangentSpace:
        """Fit one tangent space (reference point) per band."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: np.ndarray, y: np.ndarray | None = None,
                      **_: Any) -> np.ndarray:
        """Fit the per-band tangent spaces and return the training tangent vectors.

        With ``warm_start``, each band's mean starts from that band's mean of the previous
        fit (:class:`eegbench.models.riemann.WarmStartTangentSpace`); otherwise from
        pyriemann's default start. The result is the same mean to pyriemann's tolerance.
        """
        from eegbench.models.riemann import WarmStartTangentSpace  # imports pyriemann

        if X.ndim != 4:
            raise ValueError(f"Invalid value for the 'X' parameter: expected covariances of "
                             f"shape (n_windows, n_bands, n_channels, n_channels), got shape "
                             f"{X.shape}.")
        self.tangent_spaces_ = [
            WarmStartTangentSpace(metric="riemann", warm_start=self.warm_start,
                                  warm_start_key=f"{type(self).__name__}:band{b}")
            for b in range(X.shape[1])]
        out = [ts.fit_transform(X[:, b]) for b, ts in enumerate(self.tangent_spaces_)]
        self.references_ = np.stack([ts.reference_ for ts in self.tangent_spaces_])
        return np.concatenate(out, axis=1)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return the concatenated tangent vectors of all bands."""
        return np.concatenate([ts.transform(X[:, b])
                               for b, ts in enumerate(self.tangent_spaces_)], axis=1)


class FilterBankTangentSpace(TransformerMixin, BaseEstimator):
    """Filter-bank covariances followed by per-band tangent spaces, as one transformer.

    Same parameters as :class:`FilterBankCovariances`; ``fb_ts_lr`` uses the two halves as
    separate pipeline steps so that the covariances can be computed once per dataset.
    """

    def __init__(self, sfreq: float = 128.0,
                 bands: Sequence[Sequence[float]] = DEFAULT_BANDS, estimator: str = "oas"):
        self.sfreq = sfreq
        self.bands = bands
        self.estimator = estimator

    def _covariances(self) -> FilterBankCovariances:
        return FilterBankCovariances(sfreq=self.sfreq, bands=self.bands,
                                     estimator=self.estimator)

    def _band_covariances(self, X: np.ndarray) -> list[np.ndarray]:
        return self._covariances().band_covariances(X)

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> FilterBankTangentSpace:
        """Fit one tangent space (reference point) per band."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: np.ndarray, y: np.ndarray | None = None,
                      **_: Any) -> np.ndarray:
        """Fit and return the training tangent vectors (covariances computed once)."""
        self.band_tangent_space_ = BandTangentSpace()
        out = self.band_tangent_space_.fit_transform(self._covariances().transform(X))
        self.tangent_spaces_ = self.band_tangent_space_.tangent_spaces_
        self.references_ = self.band_tangent_space_.references_
        return out

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return the concatenated tangent vectors of all bands."""
        return self.band_tangent_space_.transform(self._covariances().transform(X))


def filter_bank_tangent_space_lr(bands: Sequence[Sequence[float]] | None = None,
                                 estimator: CovarianceEstimator = "oas", C: float = 0.1,
                                 warm_start: bool = False, **_: Any) -> SklearnModel:
    """Build filter bank covariances -> per-band tangent space -> standardize -> LR.

    The first step (filter-bank covariances) is fold-invariant: run.py computes it once per
    dataset and caches it (``feature_cache``). ``warm_start``: each band's Riemannian mean
    starts from the previous fit's (:class:`BandTangentSpace`).
    """
    return SklearnModel(make_pipeline(
        FilterBankCovariances(bands=tuple(map(tuple, bands)) if bands else DEFAULT_BANDS,
                              estimator=estimator),
        BandTangentSpace(warm_start=warm_start),
        StandardScaler(),
        LogisticRegression(C=C, max_iter=2000, class_weight="balanced"),
    ), fold_invariant_steps=1)
