"""Input adapters: bring benchmark windows to a model's input contract inside the model.

A foundation model was pretrained at one sampling rate, on one channel vocabulary, in one unit
and with one patch length. :class:`InputAdapter` maps the dataset's windows (batch, channels,
time) onto that contract with differentiable torch operations (FFT resampling, channel
selection / reordering / zero-padding by name, bipolar derivations, scaling, cropping or
padding to a whole number of patches), so it runs on any device as the first layer of the model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

logger = logging.getLogger(__name__)


#: Per-window normalizations an :class:`InputContract` may ask for.
NORMALIZATIONS = (None, "p95", "zscore")


@dataclass(frozen=True)
class InputContract:
    """What a model expects as input.

    Parameters
    ----------
    sfreq : float or None
        Sampling rate in Hz the model was designed/pretrained for (None: any).
    patch_size : int or None
        The time axis must be a multiple of this many samples (after resampling).
    max_times : int or None
        Longest input in samples the model accepts (longer inputs are cropped).
    ch_names : tuple of str
        Channel order the model expects; dataset channels are selected / reordered by name and
        missing ones are zero-filled. Empty: keep the dataset's channels.
    vocabulary : tuple of str
        Channel names the model knows (e.g. its position-embedding table); dataset channels not
        in it are dropped. Empty: no vocabulary.
    bipolar : tuple of (str, str)
        Derivations ``a - b`` computed from the dataset channels (e.g. the TCP montage).
    units : str
        Units the model expects, e.g. ``"100uV"``; informative.
    scale : float
        Multiplier applied to microvolt input to reach ``units``.
    normalize : str or None
        ``"p95"``: divide each channel by its 95th percentile of absolute value (BIOT);
        ``"zscore"``: subtract each channel's mean and divide by its standard deviation
        (ddof=1), per window (LUNA's ``ChannelWiseNormalize``).
    """

    sfreq: float | None = None
    patch_size: int | None = None
    max_times: int | None = None
    ch_names: tuple[str, ...] = ()
    vocabulary: tuple[str, ...] = ()
    bipolar: tuple[tuple[str, str], ...] = ()
    units: str = "uV"
    scale: float = 1.0
    normalize: str | None = None
    extra: dict = field(default_factory=dict)


def fft_resample(x: torch.Tensor, n_out: int) -> torch.Tensor:
    """Resample the last axis of ``x`` to ``n_out`` samples in the Fourier domain.

    Equivalent to :func:`scipy.signal.resample` (ideal band-limited interpolation; when
    down-sampling, content above the new Nyquist frequency is removed).
    """
    n_in = x.shape[-1]
    if n_in == n_out:
        return x
    spec = torch.fft.rfft(x, dim=-1)
    n_min = min(n_in, n_out)
    out = torch.zeros(*spec.shape[:-1], n_out // 2 + 1, dtype=spec.dtype, device=spec.device)
    out[..., : n_min // 2 + 1] = spec[..., : n_min // 2 + 1]
    if n_min % 2 == 0:  # split / fold the Nyquist bin as scipy.signal.resample does
        out[..., n_min // 2] *= 2.0 if n_out < n_in else 0.5
    return torch.fft.irfft(out, n=n_out, dim=-1) * (n_out / n_in)


def _upper(names: Sequence[str]) -> list[str]:
    return [n.upper() for n in names]


class InputAdapter(nn.Module):
    """Map dataset windows onto an :class:`InputContract` (no trainable parameters).

    Parameters
    ----------
    contract : InputContract
        What the model expects.
    ch_names : sequence of str
        The dataset's channel names (axis 1 of the input).
    sfreq : float
        The dataset's sampling rate.
    n_times : int
        The dataset's window length in samples.

    Attributes
    ----------
    out_ch_names : list of str
        Channel names after mapping (in the model's order).
    out_sfreq : float
        Sampling rate after resampling.
    out_times : int
        Window length after resampling and patch alignment.
    """

    def __init__(self, contract: InputContract, ch_names: Sequence[str], sfreq: float,
                 n_times: int) -> None:
        super().__init__()
        if contract.normalize not in NORMALIZATIONS:
            raise ValueError(f"Invalid value for the 'normalize' parameter of the input "
                             f"contract. Allowed values are {list(NORMALIZATIONS)}, but got "
                             f"{contract.normalize!r}.")
        self.contract = contract
        upper = _upper(ch_names)
        index = {n: i for i, n in enumerate(upper)}
        if contract.bipolar:
            missing = sorted({n.upper() for pair in contract.bipolar for n in pair
                              if n.upper() not in index})
            if missing:
                raise ValueError(
                    f"The bipolar montage needs channels {missing}, which the dataset lacks "
                    f"(it has {list(ch_names)}). Use a dataset with these channels or set "
                    "the model's 'montage' parameter to 'monopolar'.")
            plus = [index[a.upper()] for a, _ in contract.bipolar]
            minus = [index[b.upper()] for _, b in contract.bipolar]
            self.register_buffer("plus", torch.tensor(plus), persistent=False)
            self.register_buffer("minus", torch.tensor(minus), persistent=False)
            self.out_ch_names = [f"{a}-{b}" for a, b in contract.bipolar]
            self.mode = "bipolar"
        elif contract.ch_names:
            target = list(contract.ch_names)
            src = [index.get(n.upper(), -1) for n in target]
            if all(s < 0 for s in src):
                raise ValueError(
                    f"None of the dataset's channels {list(ch_names)} is in the model's channel "
                    f"list {target}.")
            self.register_buffer("src", torch.tensor(src), persistent=False)
            self.out_ch_names = target
            self.mode = "reorder"
            n_missing = sum(s < 0 for s in src)
            if n_missing:
                logger.info("input adapter: %d of the model's %d channels are absent from the "
                            "data and zero-filled", n_missing, len(target))
        elif contract.vocabulary:
            vocab = set(_upper(contract.vocabulary))
            keep = [i for i, n in enumerate(upper) if n in vocab]
            dropped = [ch_names[i] for i in range(len(ch_names)) if i not in keep]
            if not keep:
                raise ValueError(
                    f"None of the dataset's channels {list(ch_names)} is in the model's channel "
                    f"vocabulary (e.g. {list(contract.vocabulary)[:8]} ...).")
            if dropped:
                logger.info("input adapter: dropping channels outside the model's vocabulary: "
                            "%s", dropped)
            self.register_buffer("src", torch.tensor(keep), persistent=False)
            self.out_ch_names = [ch_names[i] for i in keep]
            self.mode = "select"
        else:
            self.out_ch_names = list(ch_names)
            self.mode = "identity"
        self.in_times = int(n_times)
        self.out_sfreq = float(contract.sfreq or sfreq)
        resampled = int(round(n_times * self.out_sfreq / sfreq))
        self.resampled_times = resampled
        out_times = resampled
        if contract.max_times:
            out_times = min(out_times, int(contract.max_times))
        if contract.patch_size:
            p = int(contract.patch_size)
            out_times = max(p, (out_times // p) * p) if out_times >= p else p
        self.out_times = out_times

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` mapped to the contract: (batch, out channels, out_times)."""
        if self.mode == "bipolar":
            x = x[:, self.plus] - x[:, self.minus]
        elif self.mode == "reorder":
            pad = torch.zeros_like(x[:, :1])
            x = torch.cat([x, pad], dim=1)[:, torch.where(self.src < 0, x.shape[1], self.src)]
        elif self.mode == "select":
            x = x[:, self.src]
        if self.resampled_times != x.shape[-1]:
            x = fft_resample(x, self.resampled_times)
        if x.shape[-1] > self.out_times:
            x = x[..., : self.out_times]
        elif x.shape[-1] < self.out_times:
            x = nn.functional.pad(x, (0, self.out_times - x.shape[-1]))
        x = x * self.contract.scale
        if self.contract.normalize == "p95":
            q = torch.quantile(x.abs(), 0.95, dim=-1, keepdim=True)
            x = x / (q + 1e-8)
        elif self.contract.normalize == "zscore":
            x = (x - x.mean(dim=-1, keepdim=True)) / (x.std(dim=-1, keepdim=True) + 1e-8)
        return x

    def extra_repr(self) -> str:  # noqa: D102
        return (f"mode={self.mode}, n_chans_out={len(self.out_ch_names)}, "
                f"sfreq_out={self.out_sfreq}, n_times {self.in_times}->{self.out_times}")


