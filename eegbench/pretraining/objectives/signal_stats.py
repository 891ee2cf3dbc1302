"""Prediction of signal statistics: band powers and the channel correlation matrix.

Targets that summarise neural dynamics (per-patch log band power in the classical bands, and
each window's channel correlation matrix) are predicted from the encoder tokens, as in models
pretrained to predict neurodynamics statistics rather than raw samples.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from eegbench.pretraining.objectives.base import PretrainObjective
from eegbench.pretraining.tokens import as_patches, encoder_tokens

#: Classical EEG bands in Hz (delta, theta, alpha, beta, low gamma).
BANDS: tuple[tuple[float, float], ...] = ((1.0, 4.0), (4.0, 8.0), (8.0, 13.0), (13.0, 30.0),
                                          (30.0, 45.0))


def band_log_power(patches: torch.Tensor, sfreq: float,
                   bands: tuple[tuple[float, float], ...] = BANDS) -> torch.Tensor:
    """Return log mean power per band of each patch, shape ``patches.shape[:-1] + (n_bands,)``.

    Raises
    ------
    ValueError
        If a band holds no frequency bin of the patch's spectrum.
    """
    n = patches.shape[-1]
    freqs = torch.fft.rfftfreq(n, d=1.0 / sfreq)
    power = torch.fft.rfft(patches, dim=-1, norm="forward").abs() ** 2
    out = []
    for lo, hi in bands:
        sel = (freqs >= lo) & (freqs < hi)
        if not sel.any():
            raise ValueError(f"Band {lo}-{hi} Hz holds no bin of a {n}-sample patch at "
                             f"{sfreq} Hz.")
        out.append(torch.log(power[..., sel].mean(-1) + 1e-6))
    return torch.stack(out, dim=-1)


def channel_correlation(x: torch.Tensor) -> torch.Tensor:
    """Return the Pearson correlation matrix of each window's channels (batch, c, c)."""
    xc = x - x.mean(-1, keepdim=True)
    xc = xc / (xc.norm(dim=-1, keepdim=True) + 1e-8)
    return xc @ xc.transpose(1, 2)


class SignalStatistics(PretrainObjective):
    """Regress per-patch band powers and the window's channel correlations from tokens.

    The band-power head reads each token; the correlation head projects each channel's
    patch-averaged token to ``corr_dim`` and predicts the correlation of two channels as the
    cosine similarity of their projections, so any number of channels works.
    """

    name = "signal_stats"

    def __init__(self, net, patch_size: int, d_model: int, sfreq: float, corr_dim: int = 32,
                 **kw: Any) -> None:
        super().__init__(net, patch_size, d_model, sfreq, **kw)
        band_log_power(torch.zeros(1, self.patch_size), self.sfreq)  # bands must fit
        self.power_head = nn.Linear(self.d_model, len(BANDS))
        self.corr_head = nn.Linear(self.d_model, int(corr_dim))

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:  # noqa: D102
        patches = as_patches(x, self.patch_size)
        target_power = band_log_power(patches, self.sfreq)
        # standardise each band over the batch so no band dominates the loss
        target_power = (target_power - target_power.mean(dim=(0, 1, 2), keepdim=True)) / (
            target_power.std(dim=(0, 1, 2), keepdim=True) + 1e-6)
        tokens = encoder_tokens(self.net, x)
        power_loss = F.mse_loss(self.power_head(tokens), target_power)
        emb = F.normalize(self.corr_head(tokens.mean(dim=2)), dim=-1)  # (b, c, corr_dim)
        corr_loss = F.mse_loss(emb @ emb.transpose(1, 2), channel_correlation(x))
        return power_loss + corr_loss

    def describe(self) -> dict[str, Any]:  # noqa: D102
        return {"objective": self.name, "bands_hz": [list(b) for b in BANDS],
                "targets": ["log band power per patch", "channel correlation matrix"]}
