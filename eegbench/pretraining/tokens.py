"""The encoder tokens of CBraMod, before its reconstruction head (``proj_out``)."""

from __future__ import annotations

import torch
from torch import nn


def encoder_tokens(net: nn.Module, x: torch.Tensor, mask: torch.Tensor | None = None
                   ) -> torch.Tensor:
    """Return CBraMod's encoder output tokens, shape (batch, channels, patches, d_model).

    Parameters
    ----------
    net : nn.Module
        A braindecode ``CBraMod``.
    x : Tensor, shape (batch, channels, time)
        Windows on CBraMod's input contract (time a multiple of the patch size).
    mask : Tensor of int, shape (batch, channels, patches), optional
        1 where a patch is replaced by the model's mask encoding.
    """
    patches = net.rearrange(x)
    return net.encoder(net.patch_embedding(patches, mask))


def as_patches(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Reshape (batch, channels, time) into (batch, channels, patches, patch_size).

    Raises
    ------
    ValueError
        If ``time`` is not a multiple of ``patch_size``.
    """
    b, c, t = x.shape
    if t % patch_size:
        raise ValueError(f"Invalid window length: {t} samples is not a multiple of the "
                         f"patch size {patch_size}.")
    return x.reshape(b, c, t // patch_size, patch_size)
