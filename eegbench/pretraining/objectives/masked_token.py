"""Masked token prediction on a spectral codebook (LaBraM / BrainOmni style).

LaBraM (Jiang et al. 2024) first trains a vector-quantised tokenizer whose codes predict each
patch's Fourier amplitude and phase, then trains the encoder to predict the codes of masked
patches. Here the tokenizer is a k-means codebook (scikit-learn ``MiniBatchKMeans``) over the
log Fourier amplitudes of patches drawn from the pretraining pool before training: a simpler
quantiser with the same target (the discrete spectral identity of a patch). The codebook is
fitted on unlabelled pool windows only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.cluster import MiniBatchKMeans
from torch import nn
from torch.nn import functional as F

from eegbench.pretraining.objectives.base import PretrainObjective, random_patch_mask
from eegbench.pretraining.tokens import as_patches, encoder_tokens


def log_amplitude(patches: torch.Tensor) -> torch.Tensor:
    """Return log(1 + |rfft|) of each patch (last axis)."""
    return torch.log1p(torch.fft.rfft(patches, dim=-1, norm="forward").abs())


class MaskedTokenPrediction(PretrainObjective):
    """Predict the spectral code (of ``n_codes``) of each masked patch (cross-entropy).

    Parameters
    ----------
    n_codes : int
        Codebook size (LaBraM uses 8192 codes for a far larger corpus; 64 suits the shared
        recordings).
    mask_ratio : float
        Share of patches masked.
    seed : int
        Seed of the k-means codebook.
    """

    name = "masked_token"

    def __init__(self, net, patch_size: int, d_model: int, sfreq: float, n_codes: int = 64,
                 mask_ratio: float = 0.5, seed: int = 0, **kw: Any) -> None:
        super().__init__(net, patch_size, d_model, sfreq, **kw)
        self.n_codes = int(n_codes)
        self.mask_ratio = float(mask_ratio)
        self.seed = int(seed)
        self.head = nn.Linear(self.d_model, self.n_codes)
        n_bins = self.patch_size // 2 + 1
        self.register_buffer("centers", torch.zeros(self.n_codes, n_bins))
        self.register_buffer("mean", torch.zeros(n_bins))
        self.register_buffer("scale", torch.ones(n_bins))
        self.fitted = False

    def prepare(self, sample: list[torch.Tensor]) -> None:
        """Fit the codebook on the log amplitudes of the sample's patches."""
        feats = torch.cat([log_amplitude(as_patches(x, self.patch_size)).reshape(
            -1, self.patch_size // 2 + 1) for x in sample]).double().numpy()
        if len(feats) < self.n_codes:
            raise ValueError(f"The codebook needs at least n_codes={self.n_codes} patches; the "
                             f"pool sample has {len(feats)}.")
        mean, scale = feats.mean(0), feats.std(0) + 1e-8
        km = MiniBatchKMeans(n_clusters=self.n_codes, random_state=self.seed, n_init=3,
                             batch_size=1024).fit((feats - mean) / scale)
        self.centers.copy_(torch.from_numpy(km.cluster_centers_.astype(np.float32)))
        self.mean.copy_(torch.from_numpy(mean.astype(np.float32)))
        self.scale.copy_(torch.from_numpy(scale.astype(np.float32)))
        self.fitted = True

    def codes(self, patches: torch.Tensor) -> torch.Tensor:
        """Return the code index of each patch, shape ``patches.shape[:-1]``."""
        feats = (log_amplitude(patches) - self.mean) / self.scale
        flat = feats.reshape(-1, feats.shape[-1])
        return torch.cdist(flat, self.centers).argmin(dim=1).view(patches.shape[:-1])

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:  # noqa: D102
        if not self.fitted:
            raise RuntimeError("MaskedTokenPrediction.prepare() must fit the codebook first.")
        patches = as_patches(x, self.patch_size)
        mask = random_patch_mask(patches.shape[:3], self.mask_ratio, generator).to(x.device)
        with torch.no_grad():
            target = self.codes(patches)
        tokens = encoder_tokens(self.net, x, mask.long())
        return F.cross_entropy(self.head(tokens[mask]), target[mask])

    def describe(self) -> dict[str, Any]:  # noqa: D102
        return {"objective": self.name, "n_codes": self.n_codes, "mask_ratio": self.mask_ratio,
                "codebook": "MiniBatchKMeans on log Fourier amplitudes of pool patches"}
