"""The MNE reference filtering path (``preprocess=mne``) on one :class:`mne.io.Raw`.

:func:`eegbench.data.standardize.filter_resample` runs it for ``backend="mne"``, and the
``gpu_fused`` backend (:mod:`eegbench.data.preprocess.raw_backend`) falls back to it for
recordings made of several contiguous segments.
"""

from __future__ import annotations

from typing import Any

import mne
import numpy as np


def filter_resample_mne(raw: mne.io.BaseRaw, spec: Any) -> mne.io.BaseRaw:
    """Apply re-referencing, notch, band-pass (zero-phase FIR) and resampling with MNE.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (loaded); modified in place and returned.
    spec : PreprocessSpec
        ``reference``, ``notch``, ``l_freq``, ``h_freq`` and ``sfreq``.
    """
    if spec.reference == "average" and "eeg" in raw.get_channel_types():
        raw.set_eeg_reference("average", projection=False, verbose="error")
    elif spec.reference and spec.reference != "average":
        raw.set_eeg_reference([spec.reference], projection=False, verbose="error")
    if spec.notch:
        raw.notch_filter(spec.notch, verbose="error")
    if spec.l_freq is not None or spec.h_freq is not None:
        raw.filter(spec.l_freq, spec.h_freq, verbose="error")
    if not np.isclose(raw.info["sfreq"], spec.sfreq):
        raw.resample(spec.sfreq, verbose="error")
    return raw
