"""EEG foundation models from braindecode, adapted to each model's input contract.

Every wrapper declares an :class:`~eegbench.models.input_contract.InputContract` (sampling rate,
patch length, channel vocabulary or montage, units) that the adapter layer enforces, builds the
braindecode network, taps the encoder's *output tokens* (never a pretraining head such as
CBraMod's ``proj_out`` reconstruction layer) and loads pretrained weights in braindecode's or
the original repository's layout (:mod:`eegbench.models.weights.loading`).

Token layouts (``FoundationEncoder.token_layout``):

========  ==========================================
CBraMod   (batch, channels, patches, d_model)
LaBraM    (batch, channels, patches, dim) + CLS token
BIOT      (batch, channels, STFT frames, dim)
EEGPT     (batch, patches, summary tokens, dim)
========  ==========================================

The head (``head``: ``linear`` on a pooled readout, or ``mlp`` on the flattened tokens) and
the adaptation (``from_scratch``, ``linear_probe``, ``finetune``, ``lp_ft``; see
:mod:`eegbench.adaptation`) are chosen per model yaml.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from eegbench._compat import braindecode_model_class, import_braindecode_models
from eegbench.models.base import SignalSpec
from eegbench.models.input_contract import InputAdapter, InputContract
from eegbench.models.torch_model import TorchBenchmarkModel
from eegbench.models.weights.known import find_known_checkpoint
from eegbench.models.weights.loading import (
    KEY_MAPPINGS,
    load_weights,
    read_metadata,
    resolve_checkpoint,
)

logger = logging.getLogger(__name__)

#: The 16 bipolar derivations of the TCP (double banana) montage BIOT was pretrained on.
TCP16 = (("Fp1", "F7"), ("F7", "T7"), ("T7", "P7"), ("P7", "O1"),
         ("Fp2", "F8"), ("F8", "T8"), ("T8", "P8"), ("P8", "O2"),
         ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
         ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"))


#: Token readouts a head can use: mean over all tokens, the model's CLS token, or all tokens
#: flattened (CBraMod's downstream classifier).
READOUTS = ("mean", "cls", "flatten")


def _readout(tokens: torch.Tensor, cls: torch.Tensor | None, readout: str) -> torch.Tensor:
    """Turn encoder tokens (batch, *token_axes, dim) into one feature vector per window."""
    if readout == "flatten":
        return tokens.flatten(1)
    if readout == "mean":
        return tokens.flatten(1, -2).mean(dim=1)
    if readout == "cls":
        if cls is None:
            raise ValueError("Invalid value for the 'readout' parameter: this model has no CLS "
                             "token. Allowed values are ['mean', 'flatten'], but got 'cls'.")
        return cls
    raise ValueError(f"Invalid value for the 'readout' parameter. Allowed values are "
                     f"{list(READOUTS)}, but got {readout!r}.")


# ----------------------------------------------------------------------------- encoder taps
# Each tap returns the encoder's output tokens and its CLS token (or None). No pretraining
# head (reconstruction projection, tokenizer codebook, predictor) is on these paths.


def cbramod_tokens(net: nn.Module, x: torch.Tensor, **_: Any):
    """Return CBraMod's tokens (batch, channels, patches, d_model).

    Patch embedding -> criss-cross transformer; ``proj_out`` (the masked-patch
    reconstruction head) is skipped.
    """
    return net.encoder(net.patch_embedding(net.rearrange(x), None)), None


def labram_tokens(net: nn.Module, x: torch.Tensor, ch_names: list[str] | None = None,
                  **_: Any):
    """Return LaBraM's tokens (batch, channels, patches, dim) and CLS token.

    Temporal-conv tokenizer -> transformer blocks -> final norm; braindecode's Labram has no
    pretraining head (``lm_head`` is not part of it). Tokens are channel-major, as the
    tokenizer flattens them.
    """
    out = net(x, return_features=True, ch_names=ch_names)
    tokens = out["features"]
    n_chans = x.shape[1]
    return tokens.reshape(tokens.shape[0], n_chans, -1, tokens.shape[-1]), out["cls_token"]


def biot_tokens(net: nn.Module, x: torch.Tensor, **_: Any):
    """Return BIOT's tokens (batch, channels, STFT frames, dim).

    Per-channel STFT tokens -> linear-attention transformer; the tokens are the transformer's
    output (captured with a forward hook; BIOT's own embedding is their mean).
    """
    captured: list[torch.Tensor] = []
    handle = net.encoder.transformer.register_forward_hook(
        lambda _m, _i, out: captured.append(out))
    try:
        net.encoder(x)
    finally:
        handle.remove()
    tokens = captured[-1]
    return tokens.reshape(tokens.shape[0], x.shape[1], -1, tokens.shape[-1]), None


def eegpt_tokens(net: nn.Module, x: torch.Tensor, **_: Any):
    """Return EEGPT's tokens (batch, patches, summary tokens, dim).

    Channel projection -> target encoder; the predictor / reconstructor of pretraining are not
    part of braindecode's EEGPT.
    """
    return net.target_encoder(net.chan_proj(x), net.chans_id), None


def braindecode_features(net: nn.Module, x: torch.Tensor, **kwargs: Any):
    """Return braindecode's ``return_features`` output as tokens (batch, tokens, dim), CLS.

    The generic tap of the foundation models whose encoder output has not been traced to a
    specific module here (:mod:`eegbench.models.foundation_zoo`): it is whatever braindecode's
    ``forward(..., return_features=True)`` returns before ``final_layer``.
    """
    out = net(x, return_features=True, **kwargs)
    feats = out["features"] if isinstance(out, dict) else out
    if feats.ndim == 2:  # one vector per window: a single token
        feats = feats[:, None, :]
    return feats.reshape(feats.shape[0], -1, feats.shape[-1]), (
        out.get("cls_token") if isinstance(out, dict) else None)


class FoundationEncoder(nn.Module):
    """The encoder of a braindecode foundation model, read at its output tokens.

    Parameters
    ----------
    net : nn.Module
        The braindecode model; its ``final_layer`` is removed and never used.
    tap : callable
        ``tap(net, x, **forward_kwargs) -> (tokens, cls_token or None)``; ``tokens`` has the
        layout ``token_layout``.
    token_layout : tuple of str
        Names of the token axes, e.g. ``("batch", "channels", "patches", "dim")``.
    readout : {"mean", "cls", "flatten"}
        How tokens become the feature vector the head sees.
    layer_names : list of str
        Attribute paths of the layers offered to layer-wise probing; the last entry is the
        list of transformer blocks (used for layer-wise learning-rate decay).
    forward_kwargs : dict
        Extra keyword arguments for the tap (e.g. LaBraM's ``ch_names``).
    """

    def __init__(self, net: nn.Module, tap: Callable[..., Any], token_layout: tuple[str, ...],
                 readout: str, layer_names: list[str],
                 forward_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"Invalid value for the 'readout' parameter. Allowed values are "
                             f"{list(READOUTS)}, but got {readout!r}.")
        self.net = net
        self.net.final_layer = nn.Identity()
        self.tap = tap
        self.token_layout = tuple(token_layout)
        self.readout = readout
        self.layer_names = layer_names
        self.forward_kwargs = dict(forward_kwargs or {})

    def tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the encoder's output tokens (layout ``token_layout``) and CLS token."""
        return self.tap(self.net, x, **self.forward_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        tokens, cls = self.tokens(x)
        return _readout(tokens, cls, self.readout)

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        """Return the transformer blocks (and embeddings) in forward order."""
        out = []
        for name in self.layer_names:
            module = self.net.get_submodule(name)
            if isinstance(module, nn.ModuleList):
                out += [(f"net.{name}.{i}", m) for i, m in enumerate(module)]
            else:
                out.append((f"net.{name}", module))
        return out

    def blocks(self) -> list[nn.Module]:
        """Return the transformer blocks in depth order (for layer-wise lr decay)."""
        module = self.net.get_submodule(self.layer_names[-1])
        return list(module) if isinstance(module, nn.ModuleList) else [module]


class FoundationModel(TorchBenchmarkModel):
    """Common logic of the foundation-model wrappers.

    Parameters
    ----------
    arch_params : dict, optional
        Architecture overrides (must match the checkpoint's architecture). Values recorded in a
        checkpoint's metadata (``<checkpoint>.json``, written by ``+exp=pretrain``) take
        precedence.
    head : dict, optional
        ``kind`` (``linear`` | ``mlp``), ``readout`` (``mean`` | ``cls`` | ``flatten``),
        ``hidden`` (MLP widths) and ``dropout``; see
        :class:`~eegbench.models.torch_model.HeadSpec`.
    probe : dict, optional
        Linear-probe settings (``readout``, ``C``, ``max_iter``); see
        :class:`~eegbench.adaptation.probe.ProbeSpec`.
    pooling : str, optional
        Deprecated alias of ``head.readout``.
    trainer, adaptation, checkpoint, checkpoint_sha256, init
        See :class:`~eegbench.models.torch_model.TorchBenchmarkModel`.
    """

    family = "foundation"
    arch: str = ""
    key_layout: str = ""
    default_arch: dict[str, Any] = {}
    tap: Callable[..., Any] = staticmethod(cbramod_tokens)
    token_layout: tuple[str, ...] = ("batch", "channels", "patches", "dim")
    layer_names: list[str] = []

    def __init__(self, arch_params: dict[str, Any] | None = None,
                 head: dict[str, Any] | None = None, probe: dict[str, Any] | None = None,
                 pooling: str | None = None, trainer: Any = None,
                 adaptation: str = "finetune", checkpoint: str | None = None,
                 checkpoint_sha256: str | None = None, init: str = "pretrained",
                 allow_unpinned: bool = False, **_: Any) -> None:
        head = dict(head or {})
        if pooling is not None:
            head.setdefault("readout", pooling)
        super().__init__(trainer=trainer, adaptation=adaptation, checkpoint=checkpoint,
                         checkpoint_sha256=checkpoint_sha256, head=head, probe=probe,
                         init=init, allow_unpinned=allow_unpinned)
        self.arch_params = {**self.default_arch, **dict(arch_params or {})}
        self.arch_params = self.resolved_arch()
        self.contract = self.checkpoint_contract(self.make_contract())

    def forward_kwargs(self, adapter: InputAdapter) -> dict[str, Any]:
        """Extra keyword arguments of the tap (subclasses)."""
        return {}

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:
        """Build the braindecode network and wrap it as a token encoder."""
        net = self.network(signal, adapter)
        return FoundationEncoder(net, type(self).tap, self.token_layout,
                                 self.effective_head().readout, list(self.layer_names),
                                 forward_kwargs=self.forward_kwargs(adapter))

    def make_contract(self) -> InputContract:
        """Return the input contract (subclasses)."""
        return InputContract()

    def checkpoint_contract(self, contract: InputContract) -> InputContract:
        """Return ``contract`` with the values the configured checkpoint was trained with.

        When the checkpoint is an entry of the known-checkpoints registry (``known:<name>``,
        the same hub file, or the entry's sha256), the entry's ``contract`` (sampling rate,
        patch length, units and scaling, each cited in ``known_checkpoints.yaml``) replaces
        the model's defaults.

        Raises
        ------
        ValueError
            If the entry's patch length contradicts ``arch_params.patch_size``.
        """
        entry = find_known_checkpoint(self.checkpoint, self.checkpoint_sha256)
        overrides = entry.contract_overrides() if entry is not None else {}
        if not overrides:
            return contract
        patch, arch_patch = overrides.get("patch_size"), self.arch_params.get("patch_size")
        if patch is not None and arch_patch is not None and int(patch) != int(arch_patch):
            raise ValueError(
                f"Invalid value for the 'model.params.arch_params.patch_size' parameter: the "
                f"checkpoint {entry.name!r} was trained on patches of {patch} samples, but got "
                f"{arch_patch}.")
        changed = {k: v for k, v in overrides.items() if getattr(contract, k) != v}
        if changed:
            logger.info("input contract of checkpoint %s applied: %s", entry.name, changed)
        return dataclasses.replace(contract, **overrides)

    def resolved_arch(self) -> dict[str, Any]:
        """Return ``arch_params`` updated with the checkpoint metadata's ``arch_params``."""
        params = dict(self.arch_params)
        if self.checkpoint and not str(self.checkpoint).startswith(("hf://", "known:")):
            try:
                meta = read_metadata(resolve_checkpoint(str(self.checkpoint)))
            except FileNotFoundError:
                meta = {}
            if meta.get("arch_params"):
                logger.info("using the checkpoint's architecture: %s", meta["arch_params"])
                params.update(meta["arch_params"])
        return params

    def network(self, signal: SignalSpec, adapter: InputAdapter, **kwargs: Any) -> nn.Module:
        """Instantiate the braindecode network for the adapted input."""
        cls = braindecode_model_class(self.arch)
        return cls(n_chans=len(adapter.out_ch_names), n_times=adapter.out_times,
                   sfreq=adapter.out_sfreq, n_outputs=signal.n_outputs, **kwargs,
                   **self.arch_params)

    def load_encoder_weights(self, encoder: nn.Module, source: str) -> None:
        """Load ``source`` into the braindecode network, translating original layouts."""
        # chans_id (EEGPT) is derived from the data's channel names, never from a checkpoint.
        load_weights(encoder.net, source, sha256=self.checkpoint_sha256,
                     mapping=KEY_MAPPINGS[self.key_layout],
                     skip_prefixes=("final_layer.", "chans_id"),
                     allow_unpinned=getattr(self, "allow_unpinned", False))


class CBraModModel(FoundationModel):
    """CBraMod (Wang et al. 2025): criss-cross transformer on 1 s patches at 200 Hz.

    Input contract: 200 Hz, patches of 200 samples, any channels, units of 100 uV.
    """

    arch = "CBraMod"
    key_layout = "cbramod"
    tap = staticmethod(cbramod_tokens)
    token_layout = ("batch", "channels", "patches", "d_model")
    layer_names = ["patch_embedding", "encoder.layers"]

    def make_contract(self) -> InputContract:  # noqa: D102
        patch = int(self.arch_params.get("patch_size", 200))
        return InputContract(sfreq=200.0, patch_size=patch, units="100uV", scale=0.01)


class LaBraMModel(FoundationModel):
    """LaBraM (Jiang et al. 2024) with its neural tokenizer (temporal conv patch embedding).

    Input contract: 200 Hz, patches of 200 samples, channels from LaBraM's 128-name
    vocabulary (others dropped; position embeddings chosen by name), units of 100 uV.
    """

    arch = "Labram"
    key_layout = "labram"
    default_arch = {"neural_tokenizer": True}
    tap = staticmethod(labram_tokens)
    token_layout = ("batch", "channels", "patches", "dim")
    layer_names = ["patch_embed", "blocks"]

    def make_contract(self) -> InputContract:  # noqa: D102
        import_braindecode_models()  # installs the torchaudio stub first
        from braindecode.models.labram import LABRAM_CHANNEL_ORDER  # braindecode: optional, heavy

        patch = int(self.arch_params.get("patch_size", 200))
        return InputContract(sfreq=200.0, patch_size=patch, units="100uV", scale=0.01,
                             vocabulary=tuple(LABRAM_CHANNEL_ORDER))

    def forward_kwargs(self, adapter: InputAdapter) -> dict[str, Any]:  # noqa: D102
        return {"ch_names": list(adapter.out_ch_names)}


class BIOTModel(FoundationModel):
    """BIOT (Yang et al. 2023): STFT tokens per channel + linear-attention transformer.

    Input contract: 200 Hz, each channel divided by its 95th percentile of |x|; with
    ``montage="tcp16"`` (default, as pretrained) the 16 TCP bipolar derivations are computed
    from 10-20 channel names; ``montage="monopolar"`` keeps the dataset's channels.
    """

    arch = "BIOT"
    key_layout = "biot"
    tap = staticmethod(biot_tokens)
    token_layout = ("batch", "channels", "frames", "dim")
    layer_names = ["encoder.patch_embedding", "encoder.transformer.layers.layers"]

    def __init__(self, montage: str = "tcp16", **kwargs: Any) -> None:
        self.montage = montage
        super().__init__(**kwargs)

    def make_contract(self) -> InputContract:  # noqa: D102
        if self.montage not in ("tcp16", "monopolar"):
            raise ValueError(f"Invalid value for the 'montage' parameter. Allowed values are "
                             f"['tcp16', 'monopolar'], but got {self.montage!r}.")
        return InputContract(sfreq=200.0, units="p95-normalised", normalize="p95",
                             bipolar=TCP16 if self.montage == "tcp16" else ())


class EEGPTModel(FoundationModel):
    """EEGPT (Wang et al. 2024): dual self-supervised transformer on 64-sample patches.

    Input contract: 256 Hz, patches of 64 samples, channels from EEGPT's 62-name vocabulary
    (embeddings chosen by name), units of mV.
    """

    arch = "EEGPT"
    key_layout = "eegpt"
    tap = staticmethod(eegpt_tokens)
    token_layout = ("batch", "patches", "summary_tokens", "dim")
    layer_names = ["chan_proj", "target_encoder.blocks"]

    def make_contract(self) -> InputContract:  # noqa: D102
        import_braindecode_models()  # installs the torchaudio stub first
        from braindecode.models.eegpt import _get_eegpt_channels  # braindecode: optional, heavy

        patch = int(self.arch_params.get("patch_size", 64))
        return InputContract(sfreq=256.0, patch_size=patch, units="mV", scale=1e-3,
                             vocabulary=tuple(_get_eegpt_channels()))

    def network(self, signal: SignalSpec, adapter: InputAdapter, **kwargs: Any) -> nn.Module:
        """Instantiate EEGPT with the adapted channel names (its channel embeddings)."""
        chs_info = [{"ch_name": n} for n in adapter.out_ch_names]
        return super().network(signal, adapter, chs_info=chs_info, **kwargs)
