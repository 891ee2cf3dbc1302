"""Fused, batched preprocessing in torch (``preprocess=gpu_fused``), on CUDA or the CPU.

One pass over many recordings: re-reference, notch + band-pass (MNE's own FIR taps, applied
as one zero-phase FFT convolution over all channels of all recordings of a sampling rate),
FFT resampling (MNE's ``raw.resample`` algorithm), unit scaling; then optional windowing,
patching and robust normalization. Intermediate results stay on the device.

Equivalence with MNE (see :mod:`eegbench.data.preprocess.mne_ref`)
------------------------------------------------------------------
MNE pads each filter step with an odd (``reflect_limited``) reflection of the signal about
its edge samples. A symmetric FIR maps a signal that is odd about an edge sample to one that
is odd about the same sample, so when the reflected segments are long enough
(``sum of half filter lengths <= n_times - 1``) notch then band-pass with their own paddings
equal one convolution with the cascaded taps on a single padding: same samples, edges
included, up to floating-point rounding. Shorter recordings take the exact step-by-step
path. Each row is centred (its mean removed) before the convolution and the mean times the
taps' DC gain is added back, which is exact by linearity and keeps float32 accurate on
recordings with large DC offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft
import torch

from eegbench.data.preprocess.params import (
    FilterParams,
    Recording,
    design_stages,
    needs_resample,
    resample_plan,
)

logger = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a usable device.

    ``"auto"`` picks CUDA when available. A CUDA request on a machine without CUDA logs a
    warning and falls back to the CPU (results are the same, only slower).

    Raises
    ------
    ValueError
        If ``device`` is not a device name.
    """
    if isinstance(device, torch.device):
        device = str(device)
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise ValueError(
            "Invalid value for the 'device' parameter. Allowed values are 'auto', 'cpu', "
            f"'cuda' or 'cuda:N', but got {device!r}."
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        logger.warning(
            "Device %r was requested but CUDA is not available to this torch (%s); running "
            "the fused preprocessing on the CPU instead.", name, torch.__version__,
        )
        return torch.device("cpu")
    return dev


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """Map ``"float32"``/``"float64"`` (or a torch dtype) to a torch floating dtype."""
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if dtype not in DTYPES:
        raise ValueError(
            f"Invalid value for the 'dtype' parameter. Allowed values are {sorted(DTYPES)}, "
            f"but got {dtype!r}."
        )
    return DTYPES[dtype]


# ---------------------------------------------------------------------------------------
# building blocks (all operate on the last axis, batched over the leading ones)


def smart_pad(x: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """Pad the last axis like MNE's ``reflect_limited`` (odd reflection, then zeros)."""
    n = x.shape[-1]
    if left == 0 and right == 0:
        return x
    lead = x.shape[:-1]
    parts = []
    if left > n - 1:
        parts.append(x.new_zeros(*lead, left - n + 1))
    parts.append(2 * x[..., :1] - x[..., 1 : min(left, n - 1) + 1].flip(-1))
    parts.append(x)
    parts.append(2 * x[..., -1:] - x[..., max(n - 1 - right, 0) : n - 1].flip(-1))
    if right > n - 1:
        parts.append(x.new_zeros(*lead, right - n + 1))
    return torch.cat(parts, dim=-1)


def _fast_len(n: int) -> int:
    return int(scipy.fft.next_fast_len(int(n), real=True))


class _SpectrumCache:
    """rfft of zero-padded taps, per (taps, FFT length, device, dtype)."""

    def __init__(self) -> None:
        self._store: dict[tuple, torch.Tensor] = {}

    def get(self, taps: np.ndarray, n_fft: int, device: torch.device, dtype: torch.dtype):
        key = (taps.tobytes(), n_fft, str(device), dtype)
        if key not in self._store:
            if len(self._store) > 32:
                self._store.clear()
            h = torch.zeros(n_fft, dtype=torch.float64)
            h[: len(taps)] = torch.tensor(taps, dtype=torch.float64)
            self._store[key] = torch.fft.rfft(h).to(device=device, dtype=_complex(dtype))
        return self._store[key]


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex64 if dtype == torch.float32 else torch.complex128


_SPECTRA = _SpectrumCache()


def fir_zero_phase(x: torch.Tensor, taps: np.ndarray) -> torch.Tensor:
    """Apply one zero-phase FIR step exactly as MNE's ``_overlap_add_filter`` does.

    Pads ``min(len(taps), n) - 1`` samples with ``reflect_limited``, convolves (one FFT of
    the whole padded signal instead of MNE's overlap-add blocks: the same linear
    convolution), and removes the group delay.
    """
    n, n_h = x.shape[-1], len(taps)
    if n_h == 1:
        return x * float(taps[0])
    edge = max(min(n_h, n) - 1, 0)
    xp = smart_pad(x, edge, edge)
    n_fft = _fast_len(xp.shape[-1] + n_h - 1)  # full linear convolution, no wrap-around
    spec = _SPECTRA.get(taps, n_fft, x.device, x.dtype)
    full = torch.fft.irfft(torch.fft.rfft(xp, n=n_fft) * spec, n=n_fft)
    shift = (n_h - 1) // 2 + edge
    return full[..., shift : shift + n]


def fft_resample(
    x: torch.Tensor, sfreq_in: float, sfreq_out: float, gain: torch.Tensor | None = None
) -> torch.Tensor:
    """Resample the last axis as ``raw.resample(sfreq_out)`` does (FFT, npad='auto', boxcar).

    All rows must share their length (one FFT size per batch). ``gain`` (broadcast against
    ``x[..., :1]``) multiplies the result, applied in the frequency domain at no extra pass.
    """
    p = resample_plan(x.shape[-1], sfreq_in, sfreq_out)
    xp = smart_pad(x, p["npad0"], p["npad1"])
    orig_len, new_len = p["orig_len"], p["new_len"]
    spec = torch.fft.rfft(xp, n=orig_len)
    shorter = new_len < orig_len
    use_len = new_len if shorter else orig_len
    n_bins = new_len // 2 + 1
    if shorter:
        spec = spec[..., :n_bins]
    if use_len % 2 == 0:
        spec[..., use_len // 2] *= 2.0 if shorter else 0.5
    spec.mul_(float(new_len) / float(orig_len))  # boxcar window W, MNE's scaling
    if gain is not None:
        spec.mul_(gain)
    y = torch.fft.irfft(spec, n=new_len)
    if p["rm0"] > 0 or p["rm1"] > 0:
        y = y[..., p["rm0"] : new_len - p["rm1"]]
    return y


def make_windows(x: torch.Tensor, length: int, stride: int) -> torch.Tensor:
    """Cut (..., n_channels, n_times) into (..., n_windows, n_channels, length) views.

    Windows start at 0, stride, 2*stride, ... and never run past the end, exactly like
    :func:`eegbench.data.standardize.fixed_windows`.
    """
    if length <= 0 or stride <= 0:
        raise ValueError(f"Window length and stride must be positive, got {length}, {stride}.")
    if x.shape[-1] < length:
        return x.new_empty(*x.shape[:-2], 0, x.shape[-2], length)
    return x.unfold(-1, length, stride).movedim(-2, -3)


def make_patches(windows: torch.Tensor, patch_len: int, stride: int | None = None) -> torch.Tensor:
    """Split the time axis of windows into patches: (..., n_times) -> (..., n_patches, patch_len).

    Raises
    ------
    ValueError
        If the patch length does not tile the windows when ``stride`` is ``None``.
    """
    if stride is None:
        if windows.shape[-1] % patch_len:
            raise ValueError(
                f"Patch length {patch_len} does not divide the window length "
                f"{windows.shape[-1]}; pass a stride or a divisor."
            )
        stride = patch_len
    return windows.unfold(-1, patch_len, stride)


def robust_normalize(x: torch.Tensor, clip: float | None = 20.0) -> torch.Tensor:
    """Per-channel robust scaling along the last axis: (x - median) / IQR, then clipping.

    Quantiles use linear interpolation (``numpy.percentile``'s default). Channels with a
    zero IQR are only centred.
    """
    q = torch.quantile(x, torch.tensor([0.25, 0.5, 0.75], dtype=x.dtype, device=x.device),
                       dim=-1, keepdim=True)
    iqr = q[2] - q[0]
    iqr = torch.where(iqr > 0, iqr, torch.ones_like(iqr))
    out = (x - q[1]) / iqr
    return out.clamp(-clip, clip) if clip is not None else out


# ---------------------------------------------------------------------------------------
# the fused pass


@dataclass
class _Prepared:
    """A recording on the device, with its reference and mean ready to be removed."""

    index: int  # position in the caller's list
    x: torch.Tensor  # (n_channels, n_times) float64, as given
    ref: torch.Tensor | None  # (1, n_times) float64 reference signal (centred if offset is)
    ref_to: torch.Tensor | None  # channel indices the reference is subtracted from
    offset: torch.Tensor  # (n_channels, 1) float64 mean of the re-referenced channels (or 0)
    scale: torch.Tensor  # (n_channels, 1) float64

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.x.shape)  # type: ignore[return-value]

    def write(self, out: torch.Tensor) -> torch.Tensor:
        """Write the re-referenced, centred rows into ``out`` (any float dtype; cast once)."""
        torch.sub(self.x, self.offset, out=out)
        if self.ref is not None:
            out.index_add_(0, self.ref_to, self.ref.to(out.dtype).expand(len(self.ref_to), -1),
                           alpha=-1)
        return out

    def rows(self, dtype: torch.dtype) -> torch.Tensor:
        """Return the re-referenced, centred rows as a new tensor."""
        return self.write(torch.empty(self.shape, dtype=dtype, device=self.x.device))


class FusedPreprocessor:
    """Batched torch re-reference + notch + band-pass + resample + scale.

    Parameters
    ----------
    params : FilterParams
        Filtering/resampling parameters (MNE defaults for everything else).
    device : str | torch.device
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
    dtype : "float64" | "float32"
        Compute precision. float64 matches MNE to ~1e-12; float32 is faster.
    max_batch_bytes : int | None
        Upper bound on one FFT batch's buffers (rows x FFT length x item size x 3);
        recordings are grouped by sampling rate and similar length within that bound.
        Default: 64 MiB on the CPU (larger batches run slower there), an eighth of
        the free memory on CUDA.
    """

    def __init__(
        self,
        params: FilterParams,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype = "float64",
        max_batch_bytes: int | None = None,
    ) -> None:
        self.params = params
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype)
        if max_batch_bytes is None:  # CPU: cache-friendly 64 MiB; CUDA: 1/8 of free memory
            max_batch_bytes = 64 * 2**20
            if self.device.type == "cuda":
                max_batch_bytes = max(max_batch_bytes, torch.cuda.mem_get_info(self.device)[0] // 8)
        self.max_batch_bytes = int(max_batch_bytes)

    def __call__(self, recordings: Sequence[Recording]) -> list[torch.Tensor]:
        """Process recordings; return one (n_channels, n_out) tensor each, on the device."""
        out: list[torch.Tensor | None] = [None] * len(recordings)
        by_rate: dict[float, list[int]] = {}
        for i, rec in enumerate(recordings):
            rec.check()
            by_rate.setdefault(float(rec.sfreq), []).append(i)
        for sfreq, idx in by_rate.items():
            stages = design_stages(sfreq, self.params.l_freq, self.params.h_freq,
                                   self.params.notch_freqs())
            half = sum((len(h) - 1) // 2 for h in stages)
            fused_ok = [i for i in idx if half <= recordings[i].shape[1] - 1]
            for i in sorted(set(idx) - set(fused_ok)):
                out[i] = self._stepwise(recordings[i], stages)
            for bucket in self._buckets(fused_ok, recordings, half):
                for i, y in self._fused_bucket([recordings[i] for i in bucket], bucket,
                                               stages, half, sfreq):
                    out[i] = y
        return out  # type: ignore[return-value]

    # -- helpers -------------------------------------------------------------------------
    def _prepare(self, rec: Recording, index: int, center: bool) -> _Prepared:
        x = torch.as_tensor(rec.data, device=self.device, dtype=torch.float64)
        offset = x.mean(-1, keepdim=True) if center else x.new_zeros(x.shape[0], 1)
        ref = to = None
        if rec.ref_from is not None and len(rec.ref_from):
            ref_to = list(rec.ref_to if rec.ref_to is not None else rec.ref_from)
            to = torch.as_tensor(ref_to, device=self.device)
            ref = x[list(rec.ref_from)].mean(0, keepdim=True)
            if center:  # mean(x - ref) = mean(x) - mean(ref)
                ref_mean = ref.mean(-1, keepdim=True)
                offset = offset.index_add(0, to, ref_mean.expand(len(ref_to), 1), alpha=-1)
                ref = ref - ref_mean
        scale = 1.0 if rec.scale is None else np.asarray(rec.scale, float)
        s = torch.as_tensor(np.broadcast_to(scale, (x.shape[0],)).copy(), device=self.device)
        return _Prepared(index, x, ref, to, offset, s[:, None])

    def _stepwise(self, rec: Recording, stages: tuple[np.ndarray, ...]) -> torch.Tensor:
        """Exact MNE order for recordings shorter than the cascaded filters."""
        prep = self._prepare(rec, -1, center=False)
        y = prep.rows(self.dtype)
        for h in stages:
            y = fir_zero_phase(y, h)
        if needs_resample(rec.sfreq, self.params.sfreq):
            y = fft_resample(y, rec.sfreq, self.params.sfreq)
        return y * prep.scale.to(y.dtype)

    def _buckets(self, idx: list[int], recordings: Sequence[Recording], half: int):
        """Group recordings of similar length whose FFT buffer fits ``max_batch_bytes``."""
        item = torch.finfo(self.dtype).bits // 8
        order = sorted(idx, key=lambda i: recordings[i].shape[1])
        bucket: list[int] = []
        rows = 0
        for i in order:
            n_ch, n = recordings[i].shape
            if bucket:
                n_min = recordings[bucket[0]].shape[1]
                size = (rows + n_ch) * (n + 2 * half) * item * 3  # real + complex buffers
                if n > 1.25 * n_min or size > self.max_batch_bytes:
                    yield bucket
                    bucket, rows = [], 0
            bucket.append(i)
            rows += n_ch
        if bucket:
            yield bucket

    def _fused_bucket(self, recs, indices, stages, half, sfreq):
        """One convolution for all channels of ``recs``, then resampling per length."""
        preps = [self._prepare(r, i, center=True) for r, i in zip(recs, indices, strict=True)]
        lengths = [p.shape[1] for p in preps]
        if stages:
            taps = stages[0]
            for h in stages[1:]:
                taps = np.convolve(taps, h)
            dc_gain = float(taps.sum())
            n_fft = _fast_len(max(lengths) + 2 * half)
            buf = torch.empty(sum(p.shape[0] for p in preps), n_fft,
                              device=self.device, dtype=self.dtype)
            r0 = 0
            for p, n in zip(preps, lengths, strict=True):
                r1 = r0 + p.shape[0]
                x = p.write(buf[r0:r1, half : half + n])
                buf[r0:r1, :half] = 2 * x[:, :1] - x[:, 1 : half + 1].flip(-1)
                buf[r0:r1, half + n : 2 * half + n] = (
                    2 * x[:, -1:] - x[:, n - 1 - half : n - 1].flip(-1)
                )
                buf[r0:r1, 2 * half + n :] = 0
                r0 = r1
            spec = torch.fft.rfft(buf, n=n_fft)
            del buf
            spec *= _SPECTRA.get(taps, n_fft, self.device, self.dtype)
            filtered = torch.fft.irfft(spec, n=n_fft)
            del spec
            # output sample t of a row sits at 2 * half + t (padding + group delay)
            rows_out = filtered[:, 2 * half :]
        else:
            dc_gain = 1.0
            rows_out = None
        yield from self._resample_blocks(preps, lengths, rows_out, dc_gain, sfreq)

    def _resample_blocks(self, preps, lengths, rows_out, dc_gain, sfreq):
        """Resample runs of equal-length recordings in one FFT each; add back DC, scale."""
        resample = needs_resample(sfreq, self.params.sfreq)
        k = r0 = 0
        while k < len(preps):
            j = k
            while j < len(preps) and lengths[j] == lengths[k]:
                j += 1
            block, n = preps[k:j], lengths[k]
            r1 = r0 + sum(p.shape[0] for p in block)
            y = (rows_out[r0:r1, :n] if rows_out is not None
                 else torch.cat([p.rows(self.dtype) for p in block]))
            dc = (torch.cat([p.offset for p in block]) * dc_gain).to(self.dtype)
            scale = torch.cat([p.scale for p in block]).to(self.dtype)
            if resample:
                # npad='auto' pads at most ~0.75 n per side: always one odd reflection, never
                # MNE's zero fill, so the removed mean commutes with resampling (kept as is).
                y = fft_resample(y, sfreq, self.params.sfreq, gain=scale)
                y += dc * scale
            else:
                y = torch.add(y, dc).mul_(scale)
            start = 0
            for p in block:
                stop = start + p.shape[0]
                yield p.index, y[start:stop]
                start = stop
            k, r0 = j, r1


def preprocess(
    recordings: Sequence[Recording],
    params: FilterParams,
    device: str | torch.device = "auto",
    dtype: str | torch.dtype = "float64",
) -> list[torch.Tensor]:
    """Run :class:`FusedPreprocessor` once (see there for the parameters)."""
    return FusedPreprocessor(params, device=device, dtype=dtype)(recordings)
