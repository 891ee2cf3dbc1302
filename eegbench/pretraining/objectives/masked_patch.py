"""Masked-patch reconstruction (CBraMod, Wang et al. 2025, Sec. 3.3)."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F

from eegbench.pretraining.objectives.base import PretrainObjective, random_patch_mask
from eegbench.pretraining.tokens import as_patches, encoder_tokens


class MaskedPatchReconstruction(PretrainObjective):
    """Mask ``mask_ratio`` of the patches; reconstruct them with CBraMod's ``proj_out``.

    The reconstruction head is the encoder's own ``proj_out`` (as in CBraMod), which
    downstream feature taps skip.
    """

    name = "masked_patch"

    def __init__(self, net, patch_size: int, d_model: int, sfreq: float,
                 mask_ratio: float = 0.5, **kw: Any) -> None:
        super().__init__(net, patch_size, d_model, sfreq, **kw)
        out = net.proj_out[0].out_features
        if out != self.patch_size:
            raise ValueError(f"Masked-patch reconstruction needs emb_dim == patch_size "
                             f"({self.patch_size}), got emb_dim={out}.")
        self.mask_ratio = float(mask_ratio)

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:  # noqa: D102
        patches = as_patches(x, self.patch_size)
        mask = random_patch_mask(patches.shape[:3], self.mask_ratio, generator).to(x.device)
        recon = self.net.proj_out(encoder_tokens(self.net, x, mask.long()))
        return F.mse_loss(recon[mask], patches[mask])

    def describe(self) -> dict[str, Any]:  # noqa: D102
        return {"objective": self.name, "mask_ratio": self.mask_ratio}
