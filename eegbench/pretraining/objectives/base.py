"""The objective contract (the registry: :mod:`eegbench.pretraining.objectives.registry`)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class PretrainObjective(nn.Module):
    """A self-supervised loss on top of a shared encoder.

    The encoder (``net``) is held by reference, not registered as a submodule, so
    ``objective.parameters()`` are the objective's own heads only; the trainer optimises
    both. Every objective reads the encoder's output tokens (batch, channels, patches,
    d_model) through :func:`eegbench.pretraining.tokens.encoder_tokens`.

    Parameters
    ----------
    net : nn.Module
        The encoder being pretrained (a braindecode ``CBraMod``).
    patch_size : int
        Samples per patch.
    d_model : int
        Token dimension.
    sfreq : float
        Sampling rate of the windows the objective sees (the encoder's contract).
    """

    name = ""
    #: Fewest patches per window the loss is defined on (datasets with shorter windows are
    #: left out of the pool, see ``pretrain.min_patches``).
    min_patches = 1

    def __init__(self, net: nn.Module, patch_size: int, d_model: int, sfreq: float,
                 **_: Any) -> None:
        super().__init__()
        self.__dict__["net"] = net  # a reference, not a submodule
        self.patch_size = int(patch_size)
        self.d_model = int(d_model)
        self.sfreq = float(sfreq)

    def prepare(self, sample: list[torch.Tensor]) -> None:
        """Fit anything the objective needs before training (default: nothing).

        Parameters
        ----------
        sample : list of Tensor
            A few batches of adapted windows from the pool (never labels).
        """

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Return the scalar loss of one batch ``x`` (batch, channels, time)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Return the objective's settings, recorded in the checkpoint metadata."""
        return {"objective": self.name}


def random_patch_mask(shape: tuple[int, ...], ratio: float,
                      generator: torch.Generator) -> torch.Tensor:
    """Return a boolean mask of ``shape`` with about ``ratio`` True (at least one)."""
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"Invalid value for the 'mask_ratio' parameter: it must be in (0, 1), "
                         f"but got {ratio!r}.")
    mask = torch.rand(shape, generator=generator) < ratio
    if not mask.any():
        mask.view(-1)[0] = True
    return mask
