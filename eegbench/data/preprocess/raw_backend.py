"""Run a non-MNE preprocessing backend on an :class:`mne.io.Raw` (``spec.backend``).

:func:`eegbench.data.standardize.filter_resample` dispatches here for every backend other
than ``"mne"``. The result is a new Raw with what the MNE path would give: the same data
(to floating-point precision), sampling rate, ``highpass``/``lowpass``/``custom_ref_applied``
in ``info``, ``first_samp`` and annotations.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import mne
import numpy as np
from mne._fiff.pick import _picks_to_idx  # exactly the picks raw.filter uses (mne is pinned)

from eegbench.data.preprocess.fused import FusedPreprocessor
from eegbench.data.preprocess.mne_backend import filter_resample_mne
from eegbench.data.preprocess.params import (
    FilterParams,
    Recording,
    needs_resample,
    reference_indices,
    resample_plan,
)

logger = logging.getLogger(__name__)

#: Compute precision of the ``gpu_fused`` backend. float32 matches MNE to ~1e-5 of the
#: signal RMS on every shared dataset (the cache stores float32 anyway).
GPU_FUSED_DTYPE = "float32"

#: Annotations that split a Raw into separately filtered segments (raw.filter's default).
_SKIP_BY = ("EDGE", "BAD_ACQ_SKIP")


@dataclass
class FusedJob:
    """One Raw prepared for the fused pass: its data channels as a :class:`Recording`."""

    raw: mne.io.BaseRaw
    rec: Recording | None  # None when the Raw has no data channel
    data_idx: np.ndarray
    other_idx: np.ndarray
    n_out: int
    referenced: bool


def _check_backend(spec: Any) -> None:
    if spec.backend != "gpu_fused":
        raise ValueError(
            "Invalid value for the 'preprocess.backend' parameter. Allowed values are "
            f"['gpu_fused', 'mne'], but got {spec.backend!r}."
        )


def _params(spec: Any) -> FilterParams:
    return FilterParams(sfreq=float(spec.sfreq), l_freq=spec.l_freq, h_freq=spec.h_freq,
                        notch=spec.notch)


def _needs_mne(raw: mne.io.BaseRaw) -> bool:
    return any(d.upper().startswith(_SKIP_BY) for d in raw.annotations.description)


def _mne_fallback(raw: mne.io.BaseRaw, spec: Any) -> mne.io.BaseRaw:
    logger.info("%s: several contiguous segments (edge/acquisition-skip annotations); "
                "using the MNE backend for this recording.", raw.filenames)
    return filter_resample_mne(raw, dataclasses.replace(spec, backend="mne"))


def prepare_job(raw: mne.io.BaseRaw, spec: Any) -> FusedJob:
    """Load ``raw`` and describe its fused pass (data channels, reference, output length)."""
    raw.load_data(verbose="error")
    params = _params(spec)
    info = raw.info
    sfreq = float(info["sfreq"])
    data_idx = _picks_to_idx(info, None, "data_or_ica", exclude=())
    other_idx = np.setdiff1d(np.arange(len(raw.ch_names)), data_idx)
    names = [raw.ch_names[i] for i in data_idx]
    types = [raw.get_channel_types()[i] for i in data_idx]
    reference = spec.reference
    if reference == "average" and "eeg" not in types:  # as the MNE path: nothing to average
        reference = None
    ref_from, ref_to = reference_indices(names, types, reference, bads=info["bads"])
    rec = None
    if len(data_idx):
        # All channels are data channels (the usual case): share the loaded array instead of
        # copying it (the fused pass never writes to its input).
        whole = len(data_idx) == len(raw.ch_names) and np.array_equal(data_idx,
                                                                      np.arange(len(data_idx)))
        data = raw._data if whole else raw.get_data(picks=data_idx)
        rec = Recording(data, sfreq, ref_from, ref_to,
                        name=str(raw.filenames[0] if raw.filenames else "raw"))
    n_out = raw.n_times
    if needs_resample(sfreq, params.sfreq):
        n_out = int(resample_plan(raw.n_times, sfreq, params.sfreq)["final_len"])
    return FusedJob(raw, rec, data_idx, other_idx, n_out, reference is not None)


def finish_job(job: FusedJob, out: Any, spec: Any) -> mne.io.BaseRaw:
    """Build the output Raw of ``job`` from the fused output of its data channels."""
    params = _params(spec)
    raw = job.raw
    data = np.empty((len(raw.ch_names), job.n_out), dtype=np.float64)
    if len(job.data_idx):
        data[job.data_idx] = out.detach().cpu().numpy()
    if len(job.other_idx):  # stim/misc channels: resampled exactly as raw.resample does
        data[job.other_idx] = _resample_others(raw, job.other_idx, params.sfreq)
    return _new_raw(raw, data, params, job.referenced, len(job.data_idx) > 0)


def filter_resample_raw(raw: mne.io.BaseRaw, spec: Any) -> mne.io.BaseRaw:
    """Re-reference, notch, band-pass and resample ``raw`` with the backend ``spec.backend``.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording (loaded or not); it is not modified.
    spec : PreprocessSpec
        ``backend`` (``"gpu_fused"``), ``sfreq``, ``l_freq``, ``h_freq``, ``notch``,
        ``reference`` and ``device``.

    Returns
    -------
    mne.io.BaseRaw
        A new Raw at ``spec.sfreq``.

    Raises
    ------
    ValueError
        On an unknown backend.
    """
    return filter_resample_raws([raw], spec)[0]


def filter_resample_raws(raws: list[mne.io.BaseRaw], spec: Any) -> list[mne.io.BaseRaw]:
    """:func:`filter_resample_raw` for many Raws in one fused call (one batched pass).

    Recordings with edge/acquisition-skip annotations go through the MNE backend one by
    one, as in :func:`filter_resample_raw`. The inputs are not modified.
    """
    _check_backend(spec)
    out: list[mne.io.BaseRaw | None] = [None] * len(raws)
    jobs: dict[int, FusedJob] = {}
    for i, raw in enumerate(raws):
        raw.load_data(verbose="error")
        if _needs_mne(raw):
            out[i] = _mne_fallback(raw, spec)
        else:
            jobs[i] = prepare_job(raw, spec)
    fused = [i for i, job in jobs.items() if job.rec is not None]
    results: dict[int, Any] = {}
    if fused:
        device = getattr(spec, "device", "auto")
        pre = FusedPreprocessor(_params(spec), device=device, dtype=GPU_FUSED_DTYPE)
        results = dict(zip(fused, pre([jobs[i].rec for i in fused]), strict=True))
    for i, job in jobs.items():
        out[i] = finish_job(job, results.pop(i, None), spec)
        job.rec = None  # free the float64 input as soon as it is done with
    return out  # type: ignore[return-value]


def _resample_others(raw: mne.io.BaseRaw, idx: np.ndarray, sfreq: float) -> np.ndarray:
    sub = mne.io.RawArray(raw.get_data(picks=idx), mne.pick_info(raw.info, idx),
                          first_samp=raw.first_samp, verbose="error")
    if needs_resample(raw.info["sfreq"], sfreq):
        sub.resample(sfreq, verbose="error")
    return sub.get_data()


def _new_raw(
    raw: mne.io.BaseRaw, data: np.ndarray, params: FilterParams, referenced: bool,
    has_data: bool,
) -> mne.io.BaseRaw:
    """Build the output Raw with the info updates MNE's methods make."""
    info = raw.info.copy()
    ratio = params.sfreq / info["sfreq"]
    resampled = needs_resample(info["sfreq"], params.sfreq)
    l_freq, h_freq = params.l_freq, params.h_freq
    with info._unlock():
        if referenced:
            info["custom_ref_applied"] = mne.io.constants.FIFF.FIFFV_MNE_CUSTOM_REF_ON
        if has_data and (l_freq is not None or h_freq is not None):  # _filt_update_info
            if (h_freq is not None and (l_freq is None or l_freq < h_freq)
                    and (info["lowpass"] is None or h_freq < info["lowpass"])):
                info["lowpass"] = float(h_freq)
            if (l_freq is not None and (h_freq is None or l_freq < h_freq)
                    and (info["highpass"] is None or l_freq > info["highpass"])):
                info["highpass"] = float(l_freq)
        if resampled:
            lowpass = np.inf if info["lowpass"] is None else info["lowpass"]
            info["lowpass"] = min(lowpass, params.sfreq / 2.0)
            info["sfreq"] = float(params.sfreq)
    first_samp = int(np.round(raw.first_samp * ratio)) if resampled else raw.first_samp
    out = mne.io.RawArray(data, info, first_samp=first_samp, verbose="error")
    out.set_annotations(raw.annotations)
    return out
