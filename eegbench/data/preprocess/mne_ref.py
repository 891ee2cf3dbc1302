"""The reference MNE pipeline as a function on arrays (``preprocess=mne``, one recording).

It calls the same MNE functions, with the same defaults, that ``raw.set_eeg_reference``,
``raw.notch_filter``, ``raw.filter`` and ``raw.resample`` call, so that tests and the
benchmark compare the fused pipeline with MNE like for like, on plain arrays.
"""

from __future__ import annotations

import mne
import numpy as np

from eegbench.data.preprocess.params import FilterParams, Recording, needs_resample


def mne_filter_resample(rec: Recording, params: FilterParams) -> np.ndarray:
    """Re-reference, notch, band-pass, resample and scale one recording with MNE.

    Parameters
    ----------
    rec : Recording
        The recording (SI units) with its reference channels and scale.
    params : FilterParams
        Output rate and filter edges.

    Returns
    -------
    ndarray, shape (n_channels, n_out), float64
    """
    rec.check()
    x = np.array(rec.data, dtype=np.float64, copy=True)
    if rec.ref_from is not None and len(rec.ref_from):
        ref_to = list(rec.ref_to if rec.ref_to is not None else rec.ref_from)
        x[ref_to] -= x[list(rec.ref_from)].mean(0, keepdims=True)
    if params.notch_freqs():
        x = mne.filter.notch_filter(x, rec.sfreq, list(params.notch_freqs()), verbose="error")
    if params.l_freq is not None or params.h_freq is not None:
        x = mne.filter.filter_data(x, rec.sfreq, params.l_freq, params.h_freq, verbose="error")
    if needs_resample(rec.sfreq, params.sfreq):
        # raw.resample's defaults (mne.filter.resample's own npad default is 100)
        x = mne.filter.resample(
            x, params.sfreq, rec.sfreq, npad="auto", window="auto", pad="auto",
            method="fft", verbose="error",
        )
    if rec.scale is not None:
        x *= np.broadcast_to(np.asarray(rec.scale, float), (x.shape[0],))[:, None]
    return x


def fixed_windows_np(x: np.ndarray, length: int, stride: int) -> np.ndarray:
    """(n_channels, n_times) -> (n_windows, n_channels, length), windows from sample 0."""
    starts = np.arange(0, x.shape[1] - length + 1, stride)
    if not len(starts):
        return np.empty((0, x.shape[0], length), dtype=x.dtype)
    return np.stack([x[:, s : s + length] for s in starts])


def robust_normalize_np(x: np.ndarray, clip: float | None = 20.0) -> np.ndarray:
    """NumPy twin of :func:`eegbench.data.preprocess.fused.robust_normalize`."""
    q25, med, q75 = np.percentile(x, [25, 50, 75], axis=-1, keepdims=True)
    iqr = np.where(q75 - q25 > 0, q75 - q25, 1.0)
    out = (x - med) / iqr
    return np.clip(out, -clip, clip) if clip is not None else out
