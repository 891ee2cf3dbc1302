"""Next-patch prediction (MEG-GPT's next-step prediction, Huang et al. 2025).

CBraMod's attention is bidirectional, so causality comes from the input: for a cut point
``k`` drawn per window, every patch from ``k`` on is replaced by the mask encoding, and the
token of patch ``k - 1`` (which has seen only patches ``< k``) predicts the raw patch ``k``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from eegbench.pretraining.objectives.base import PretrainObjective
from eegbench.pretraining.tokens import as_patches, encoder_tokens


class NextPatchPrediction(PretrainObjective):
    """Predict patch ``k`` from the tokens of patches ``< k`` (future masked)."""

    name = "next_patch"

    min_patches = 2

    def __init__(self, net, patch_size: int, d_model: int, sfreq: float, **kw: Any) -> None:
        super().__init__(net, patch_size, d_model, sfreq, **kw)
        self.head = nn.Linear(self.d_model, self.patch_size)

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:  # noqa: D102
        patches = as_patches(x, self.patch_size)
        b, c, n, _ = patches.shape
        if n < 2:
            raise ValueError(f"Next-patch prediction needs windows of at least 2 patches, got "
                             f"{n} patch of {self.patch_size} samples.")
        cut = torch.randint(1, n, (b,), generator=generator).to(x.device)
        future = torch.arange(n, device=x.device)[None, :] >= cut[:, None]  # (b, n)
        mask = future[:, None, :].expand(b, c, n)
        tokens = encoder_tokens(self.net, x, mask.long())
        rows = torch.arange(b, device=x.device)
        context = tokens[rows, :, cut - 1]  # (b, c, d): token of the last visible patch
        target = patches[rows, :, cut]  # (b, c, patch)
        return F.mse_loss(self.head(context), target)
