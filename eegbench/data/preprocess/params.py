"""Parameters and inputs shared by the fused (torch) and the reference (MNE) pipelines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import mne
import numpy as np


@dataclass(frozen=True)
class FilterParams:
    """What both pipelines compute: re-reference, notch, band-pass, resample.

    The defaults of every step are MNE's (``raw.notch_filter``, ``raw.filter``,
    ``raw.resample``): zero-phase FIR (firwin, hamming, ``'auto'`` lengths and transition
    bands), ``reflect_limited`` edge padding, FFT resampling with ``npad='auto'``.

    Attributes
    ----------
    sfreq : float
        Output sampling rate in Hz.
    l_freq, h_freq : float | None
        Band-pass edges in Hz (``None`` leaves that side open).
    notch : float | tuple of float | None
        Line-noise frequencies to notch out in Hz.
    """

    sfreq: float = 128.0
    l_freq: float | None = 0.5
    h_freq: float | None = 45.0
    notch: float | tuple[float, ...] | None = None

    def notch_freqs(self) -> tuple[float, ...]:
        """Return the notch frequencies as a tuple (empty when no notch)."""
        if self.notch is None or self.notch == 0:
            return ()
        return tuple(float(f) for f in np.atleast_1d(self.notch))


@dataclass
class Recording:
    """One recording handed to a pipeline.

    Attributes
    ----------
    data : array-like, shape (n_channels, n_times)
        Signals in SI units (volts, teslas), as ``raw.get_data()`` returns them.
    sfreq : float
        Sampling rate of ``data`` in Hz.
    ref_from : sequence of int | None
        Channels whose mean is the new reference (``None``: keep the reference).
    ref_to : sequence of int | None
        Channels the reference is subtracted from (default: ``ref_from``).
    scale : float | array-like | None
        Per-channel factor applied last (e.g. 1e6 for volts -> microvolts).
    name : str
        Used in error messages.
    """

    data: object
    sfreq: float
    ref_from: Sequence[int] | None = None
    ref_to: Sequence[int] | None = None
    scale: float | Sequence[float] | np.ndarray | None = None
    name: str = "<array>"

    @property
    def shape(self) -> tuple[int, int]:
        """(n_channels, n_times) of the data."""
        return tuple(self.data.shape)  # type: ignore[attr-defined,return-value]

    def check(self) -> None:
        """Raise ``ValueError`` on data that is not 2-D or has fewer than two samples."""
        shape = getattr(self.data, "shape", None)
        if shape is None or len(shape) != 2:
            raise ValueError(
                f"{self.name}: data must have shape (n_channels, n_times), got shape {shape}."
            )
        if shape[1] < 2:
            raise ValueError(f"{self.name}: needs at least 2 samples to filter, got {shape[1]}.")
        if not self.sfreq > 0:
            raise ValueError(f"{self.name}: sampling rate must be positive, got {self.sfreq}.")


def reference_indices(
    ch_names: Sequence[str],
    ch_types: Sequence[str],
    reference: str | Sequence[str] | None,
    bads: Sequence[str] = (),
) -> tuple[list[int] | None, list[int] | None]:
    """Channel indices for re-referencing, chosen as ``raw.set_eeg_reference`` chooses them.

    Parameters
    ----------
    ch_names, ch_types : sequence of str
        Channel names and MNE channel types.
    reference : "average" | str | sequence of str | None
        ``"average"`` (mean of the good EEG channels), one or several channel names, or
        ``None`` to keep the recording's reference.
    bads : sequence of str
        Bad channels: neither part of nor re-referenced by the average.

    Returns
    -------
    ref_from, ref_to : list of int | None
        Channels averaged into the reference and channels it is subtracted from.

    Raises
    ------
    ValueError
        If there is no good EEG channel or a named reference channel is missing.
    """
    if reference is None:
        return None, None
    eeg = [i for i, (n, t) in enumerate(zip(ch_names, ch_types, strict=True))
           if t == "eeg" and n not in bads]
    if not eeg:
        raise ValueError(
            f"Cannot apply reference {reference!r}: no good EEG channel among {list(ch_names)}."
        )
    if isinstance(reference, str) and reference == "average":
        return eeg, eeg
    names = [reference] if isinstance(reference, str) else list(reference)
    missing = [n for n in names if n not in ch_names]
    if missing:
        raise ValueError(
            f"Invalid value for the 'reference' parameter. Allowed values are 'average', None "
            f"or channel names among {list(ch_names)}, but got {reference!r} "
            f"(missing {missing})."
        )
    return [list(ch_names).index(n) for n in names], eeg


@lru_cache(maxsize=64)
def design_stages(
    sfreq: float,
    l_freq: float | None,
    h_freq: float | None,
    notch: tuple[float, ...],
) -> tuple[np.ndarray, ...]:
    """FIR taps of each filtering step, in MNE's order (notch, then band-pass).

    The taps are MNE's own (:func:`mne.filter.create_filter`) with the arguments that
    ``raw.notch_filter(notch)`` and ``raw.filter(l_freq, h_freq)`` pass to it.

    Returns
    -------
    tuple of ndarray
        Zero-phase (odd-length, symmetric) FIR filters; empty when nothing is filtered.
    """
    stages = []
    if notch:
        freqs = np.asarray(notch, float)
        widths = freqs / 200.0  # notch_filter's default notch_widths
        tb_2 = 1.0 / 2.0  # notch_filter's default trans_bandwidth=1
        highs = [f + w / 2.0 + tb_2 for f, w in zip(freqs, widths, strict=True)]
        lows = [f - w / 2.0 - tb_2 for f, w in zip(freqs, widths, strict=True)]
        stages.append(
            mne.filter.create_filter(
                None, sfreq, highs, lows, l_trans_bandwidth=tb_2, h_trans_bandwidth=tb_2,
                verbose="error",
            )
        )
    if l_freq is not None or h_freq is not None:
        stages.append(mne.filter.create_filter(None, sfreq, l_freq, h_freq, verbose="error"))
    for h in stages:
        h.setflags(write=False)
    return tuple(stages)


def resample_plan(n: int, sfreq_in: float, sfreq_out: float) -> dict[str, int | float]:
    """Sizes MNE's FFT resampling (``raw.resample`` defaults, ``npad='auto'``) uses for ``n``.

    Returns
    -------
    dict
        ``ratio``, ``final_len``, ``npad0``, ``npad1``, ``orig_len``, ``new_len``,
        ``rm0``, ``rm1`` (samples trimmed after resampling).
    """
    ratio = float(sfreq_out) / float(sfreq_in)
    final_len = max(int(round(ratio * n)), 1)
    min_add = min(n // 8, 100) * 2
    npad = 2 ** int(np.ceil(np.log2(n + min_add))) - n
    npad0, extra = divmod(npad, 2)
    npad1 = npad0 + extra
    orig_len = n + npad0 + npad1
    new_len = max(int(round(ratio * orig_len)), 1)
    rm0 = int(round(ratio * npad0))
    rm1 = new_len - final_len - rm0
    return dict(ratio=ratio, final_len=final_len, npad0=npad0, npad1=npad1,
                orig_len=orig_len, new_len=new_len, rm0=rm0, rm1=rm1)


def needs_resample(sfreq_in: float, sfreq_out: float) -> bool:
    """Return False when MNE would skip resampling (rates equal to a relative 1e-6)."""
    return not np.isclose(sfreq_out, sfreq_in, atol=0, rtol=1e-6)
