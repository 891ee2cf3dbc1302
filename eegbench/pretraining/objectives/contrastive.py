"""Contrastive learning over augmented views (SimCLR's NT-Xent; Chen et al. 2020).

Two views of each window are made by random augmentations in time (circular shift,
amplitude scaling, additive noise), frequency (a random band zeroed in the Fourier domain) and
channels (random channel drop-out), as multi-view contrastive EEG models combine them; the
pooled encoder tokens of both views pass through a projection head and the NT-Xent loss pulls
views of the same window together.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from eegbench.pretraining.objectives.base import PretrainObjective
from eegbench.pretraining.tokens import encoder_tokens


def augment(x: torch.Tensor, sfreq: float, generator: torch.Generator,
            channel_drop: float = 0.2, band_width_hz: float = 6.0,
            noise_std: float = 0.1) -> torch.Tensor:
    """Return one random view of ``x`` (batch, channels, time): time, frequency, channel."""
    b, c, t = x.shape
    # time: circular shift, amplitude scaling, additive noise relative to each window's std
    shift = int(torch.randint(0, t, (1,), generator=generator))
    view = torch.roll(x, shifts=shift, dims=-1)
    scale = 0.8 + 0.4 * torch.rand(b, 1, 1, generator=generator)
    std = x.std(dim=(1, 2), keepdim=True)
    view = view * scale + noise_std * std * torch.randn(view.shape, generator=generator)
    # frequency: zero a random band in the Fourier domain
    spec = torch.fft.rfft(view, dim=-1)
    freqs = torch.fft.rfftfreq(t, d=1.0 / sfreq)
    lo = float(torch.rand(1, generator=generator)) * max(float(freqs[-1]) - band_width_hz, 0.0)
    spec = spec * ~((freqs >= lo) & (freqs < lo + band_width_hz))
    view = torch.fft.irfft(spec, n=t, dim=-1)
    # channels: random drop-out (at least one channel kept)
    keep = torch.rand(b, c, 1, generator=generator) >= channel_drop
    keep[:, 0] |= ~keep.any(dim=1)
    return view * keep


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """Return the NT-Xent loss of paired embeddings (batch, dim)."""
    z = F.normalize(torch.cat([z1, z2]), dim=-1)
    sim = z @ z.T / temperature
    n = len(z1)
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


class ContrastiveViews(PretrainObjective):
    """NT-Xent between two augmented views of each window (temperature ``temperature``)."""

    name = "contrastive"

    def __init__(self, net, patch_size: int, d_model: int, sfreq: float,
                 temperature: float = 0.2, proj_dim: int = 64, **kw: Any) -> None:
        super().__init__(net, patch_size, d_model, sfreq, **kw)
        self.temperature = float(temperature)
        self.projection = nn.Sequential(nn.Linear(self.d_model, self.d_model), nn.ReLU(),
                                        nn.Linear(self.d_model, int(proj_dim)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Return the projected, pooled tokens of ``x`` (batch, proj_dim)."""
        return self.projection(encoder_tokens(self.net, x).mean(dim=(1, 2)))

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:  # noqa: D102
        if len(x) < 2:
            raise ValueError("The contrastive objective needs batches of at least 2 windows.")
        v1 = augment(x.cpu(), self.sfreq, generator).to(x.device)
        v2 = augment(x.cpu(), self.sfreq, generator).to(x.device)
        return nt_xent(self.embed(v1), self.embed(v2), self.temperature)

    def describe(self) -> dict[str, Any]:  # noqa: D102
        return {"objective": self.name, "temperature": self.temperature,
                "augmentations": ["circular shift", "amplitude scaling", "additive noise",
                                  "band stop", "channel drop-out"]}
