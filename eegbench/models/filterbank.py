"""Filter-bank Riemannian features: one tangent space per frequency band (e.g. for SSVEP)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.signal import butter, sosfiltfilt
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eegbench.models.base import MODELS
from eegbench.models.classical import SklearnModel

#: Default bands (Hz): 4 Hz wide from 4 to 40 Hz, covering the alpha/beta range and SSVEP
#: stimulation frequencies and their harmonics below the usual 45 Hz low-pass.
DEFAULT_BANDS: tuple[tuple[float, float], ...] = tuple((f, f + 4.0) for f in range(4, 40, 4))


class FilterBankTangentSpace(TransformerMixin, BaseEstimator):
    """Per-band tangent-space features of band-passed windows, concatenated.

    Each band's covariance is mapped to the tangent space at that band's Riemannian mean.

    Parameters
    ----------
    sfreq : float
        Sampling rate of the windows (set by :class:`SklearnModel` from the dataset).
    bands : sequence of (low, high)
        Pass bands in Hz (zero-phase 4th-order Butterworth, ``sosfiltfilt``).
    estimator : str
        Covariance estimator of :class:`pyriemann.estimation.Covariances` (shrinkage).
    """

    def __init__(self, sfreq: float = 128.0,
                 bands: Sequence[Sequence[float]] = DEFAULT_BANDS, estimator: str = "oas"):
        self.sfreq = sfreq
        self.bands = bands
        self.estimator = estimator

    def _usable_bands(self) -> list[tuple[float, float]]:
        nyquist = self.sfreq / 2.0
        usable = [(float(lo), float(hi)) for lo, hi in self.bands if hi < nyquist]
        if not usable:
            raise ValueError(f"Invalid value for the 'bands' parameter: no band lies below the "
                             f"Nyquist frequency {nyquist} Hz, got {list(self.bands)}.")
        return usable

    def _band_covariances(self, X: np.ndarray) -> list[np.ndarray]:
        from pyriemann.estimation import Covariances

        out = []
        for lo, hi in self._usable_bands():
            sos = butter(4, [lo, hi], btype="bandpass", fs=self.sfreq, output="sos")
            out.append(Covariances(estimator=self.estimator).transform(
                sosfiltfilt(sos, X, axis=-1)))
        return out

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> FilterBankTangentSpace:
        """Fit one tangent space (reference point) per band."""
        from pyriemann.tangentspace import TangentSpace

        self.tangent_spaces_ = [TangentSpace(metric="riemann").fit(c)
                                for c in self._band_covariances(X)]
        self.references_ = np.stack([ts.reference_ for ts in self.tangent_spaces_])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return the concatenated tangent vectors of all bands."""
        return np.concatenate([ts.transform(c) for ts, c in
                               zip(self.tangent_spaces_, self._band_covariances(X), strict=True)],
                              axis=1)


@MODELS.register("fb_ts_lr")
def filter_bank_tangent_space_lr(bands: Sequence[Sequence[float]] | None = None,
                                 estimator: str = "oas", C: float = 0.1,
                                 **_: Any) -> SklearnModel:
    """Build filter bank -> per-band tangent space -> standardize -> LR."""
    return SklearnModel(make_pipeline(
        FilterBankTangentSpace(bands=tuple(map(tuple, bands)) if bands else DEFAULT_BANDS,
                               estimator=estimator),
        StandardScaler(),
        LogisticRegression(C=C, max_iter=2000, class_weight="balanced"),
    ))
