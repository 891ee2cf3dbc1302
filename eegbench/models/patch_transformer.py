"""A small transformer encoder with switchable patch embeddings (the ERP patch-embedding study).

The ERP foundation-model benchmark asks which way of turning raw EEG into tokens suits
event-related potentials. Everything but the patch embedding is held fixed: tokens get a
learned channel and patch-position embedding, pass through ``n_layers`` pre-norm transformer
blocks, and are mean-pooled into the feature vector. Embeddings (``patch_embedding``):

================  ==========================================================================
``linear``        a linear map of each channel's raw patch (ViT / CBraMod-style raw patches)
``conv``          a temporal convolution stack over each channel's patch (LaBraM's temporal
                  encoder)
``spectral``      a linear map of each patch's Fourier amplitude and phase (BIOT's STFT
                  tokens)
``channel_mix``   one token per time patch from all channels at once (spatio-temporal patch,
                  as in EEG-ViT variants)
================  ==========================================================================

Token layout: (batch, tokens, d_model) with ``tokens = n_chans * n_patches`` for the per-channel
embeddings and ``n_patches`` for ``channel_mix``; :meth:`PatchTransformerEncoder.tokens` returns
them before pooling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from eegbench.models.base import SignalSpec
from eegbench.models.input_contract import InputAdapter
from eegbench.models.torch_model import TorchBenchmarkModel
from eegbench.models.zoo import PATCH_EMBEDDINGS


class _ConvPatch(nn.Module):
    """Temporal convolutions over one channel's patch, then average over time."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(1, d_model // 2, 7, padding=3), nn.GELU(),
                                 nn.GroupNorm(4, d_model // 2),
                                 nn.Conv1d(d_model // 2, d_model, 3, padding=1), nn.GELU())

    def forward(self, patches: torch.Tensor) -> torch.Tensor:  # (N, p) -> (N, d)
        return self.net(patches.unsqueeze(1)).mean(-1)


class _SpectralPatch(nn.Module):
    """Linear map of the patch's Fourier amplitude (log) and phase (cos, sin)."""

    def __init__(self, patch_size: int, d_model: int) -> None:
        super().__init__()
        self.proj = nn.Linear(3 * (patch_size // 2 + 1), d_model)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:  # (N, p) -> (N, d)
        spec = torch.fft.rfft(patches, dim=-1, norm="ortho")
        phase = torch.angle(spec)
        return self.proj(torch.cat([torch.log1p(spec.abs()), torch.cos(phase),
                                    torch.sin(phase)], dim=-1))


class PatchTransformerEncoder(nn.Module):
    """Patch embedding -> transformer -> mean-pooled tokens (batch, d_model).

    Parameters
    ----------
    n_chans, n_times : int
        Input shape; the time axis is zero-padded to a multiple of ``patch_size``.
    patch_embedding : {"linear", "conv", "spectral", "channel_mix"}
        How raw patches become tokens.
    patch_size : int
        Samples per patch.
    d_model, n_layers, n_heads : int
        Transformer size.
    dropout : float
        Dropout in the transformer blocks.
    """

    def __init__(self, n_chans: int, n_times: int, patch_embedding: str = "linear",
                 patch_size: int = 16, d_model: int = 64, n_layers: int = 2, n_heads: int = 4,
                 dropout: float = 0.1) -> None:
        super().__init__()
        if patch_embedding not in PATCH_EMBEDDINGS:
            raise ValueError(f"Invalid value for the 'patch_embedding' parameter. Allowed "
                             f"values are {list(PATCH_EMBEDDINGS)}, but got "
                             f"{patch_embedding!r}.")
        self.kind = patch_embedding
        self.patch_size = int(patch_size)
        self.n_chans = int(n_chans)
        self.n_patches = -(-int(n_times) // self.patch_size)
        self.d_model = int(d_model)
        if self.kind == "linear":
            self.embed = nn.Linear(self.patch_size, d_model)
        elif self.kind == "conv":
            self.embed = _ConvPatch(d_model)
        elif self.kind == "spectral":
            self.embed = _SpectralPatch(self.patch_size, d_model)
        else:
            self.embed = nn.Linear(self.n_chans * self.patch_size, d_model)
        per_channel = self.kind != "channel_mix"
        self.channel_embedding = nn.Parameter(
            torch.zeros(self.n_chans if per_channel else 1, 1, d_model))
        self.position_embedding = nn.Parameter(torch.zeros(1, self.n_patches, d_model))
        nn.init.trunc_normal_(self.channel_embedding, std=0.02)
        nn.init.trunc_normal_(self.position_embedding, std=0.02)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, 2 * d_model, dropout,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)

    @property
    def n_tokens(self) -> int:
        """Tokens per window."""
        return self.n_patches * (1 if self.kind == "channel_mix" else self.n_chans)

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        pad = self.n_patches * self.patch_size - x.shape[-1]
        if pad:
            x = nn.functional.pad(x, (0, pad))
        return x.reshape(x.shape[0], x.shape[1], self.n_patches, self.patch_size)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Return the encoder's output tokens (batch, n_tokens, d_model)."""
        patches = self._patches(x)  # (b, c, n, p)
        b, c, n, p = patches.shape
        if self.kind == "channel_mix":
            emb = self.embed(patches.permute(0, 2, 1, 3).reshape(b, n, c * p))[:, None]
        else:
            emb = self.embed(patches.reshape(-1, p)).reshape(b, c, n, self.d_model)
        emb = emb + self.channel_embedding[None, :, :, :] + self.position_embedding[:, None]
        return self.norm(self.blocks(emb.reshape(b, -1, self.d_model)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.tokens(x).mean(dim=1)

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        """Return the patch embedding and each transformer block, in forward order."""
        return [("embed", self.embed)] + [(f"blocks.layers.{i}", m)
                                          for i, m in enumerate(self.blocks.layers)]


class PatchTransformerModel(TorchBenchmarkModel):
    """The patch-embedding study's transformer, trained from scratch on the task.

    Parameters
    ----------
    patch_embedding : {"linear", "conv", "spectral", "channel_mix"}
        See :class:`PatchTransformerEncoder`.
    arch_params : dict, optional
        ``patch_size``, ``d_model``, ``n_layers``, ``n_heads``, ``dropout``.
    trainer, adaptation, checkpoint, checkpoint_sha256
        See :class:`~eegbench.models.torch_model.TorchBenchmarkModel`.
    """

    family = "specialist"

    def __init__(self, patch_embedding: str = "linear", arch_params: dict[str, Any] | None = None,
                 trainer: Any = None, adaptation: str = "from_scratch",
                 checkpoint: str | None = None, checkpoint_sha256: str | None = None) -> None:
        super().__init__(trainer=trainer, adaptation=adaptation, checkpoint=checkpoint,
                         checkpoint_sha256=checkpoint_sha256)
        if patch_embedding not in PATCH_EMBEDDINGS:
            raise ValueError(f"Invalid value for the 'patch_embedding' parameter. Allowed "
                             f"values are {list(PATCH_EMBEDDINGS)}, but got "
                             f"{patch_embedding!r}.")
        self.patch_embedding = patch_embedding
        self.arch_params = dict(arch_params or {})

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:  # noqa: D102
        return PatchTransformerEncoder(len(adapter.out_ch_names), adapter.out_times,
                                       self.patch_embedding, **self.arch_params)


def variant_factory(name: str) -> Callable[..., PatchTransformerModel]:
    """Return the factory of ``patch_tf_<embedding>`` (the embedding fixed)."""
    embedding = name.removeprefix("patch_tf_")
    if embedding not in PATCH_EMBEDDINGS:
        raise ValueError(f"Invalid patch-transformer variant {name!r}: allowed embeddings are "
                         f"{list(PATCH_EMBEDDINGS)}.")

    def factory(**params: Any) -> PatchTransformerModel:
        params.setdefault("patch_embedding", embedding)
        if params["patch_embedding"] != embedding:
            raise ValueError(f"Model 'patch_tf_{embedding}' has patch_embedding={embedding!r}; "
                             f"got {params['patch_embedding']!r} (use model=patch_transformer).")
        return PatchTransformerModel(**params)

    factory.__name__ = f"build_patch_tf_{embedding}"
    factory.__doc__ = f"The patch-embedding study's transformer with the {embedding!r} embedding."
    return factory
