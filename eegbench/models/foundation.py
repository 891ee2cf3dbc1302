"""EEG foundation models from braindecode, adapted to each model's input contract.

Every wrapper declares an :class:`~eegbench.models.adapters.InputContract` (sampling rate,
patch length, channel vocabulary or montage, units) that the adapter layer enforces, builds the
braindecode network, exposes pooled features to the benchmark's linear head and loads
pretrained weights in braindecode's or the original repository's layout
(:mod:`eegbench.models.pretrained`). ``adaptation`` chooses full fine-tuning or a linear probe.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from eegbench._compat import import_braindecode_models
from eegbench.models.adapters import InputAdapter, InputContract
from eegbench.models.base import MODELS, SignalSpec
from eegbench.models.pretrained import KEY_MAPPINGS, load_weights, read_metadata, resolve_checkpoint
from eegbench.models.torch_model import TorchBenchmarkModel

logger = logging.getLogger(__name__)

#: The 16 bipolar derivations of the TCP (double banana) montage BIOT was pretrained on.
TCP16 = (("Fp1", "F7"), ("F7", "T7"), ("T7", "P7"), ("P7", "O1"),
         ("Fp2", "F8"), ("F8", "T8"), ("T8", "P8"), ("P8", "O2"),
         ("Fp1", "F3"), ("F3", "C3"), ("C3", "P3"), ("P3", "O1"),
         ("Fp2", "F4"), ("F4", "C4"), ("C4", "P4"), ("P4", "O2"))


def _pool(features: torch.Tensor, pooling: str, keep: int) -> torch.Tensor:
    """Pool all but the last ``keep`` axes after batch: "mean" averages them, "flatten" keeps."""
    if pooling == "flatten":
        return features.flatten(1)
    if pooling == "mean":
        dims = tuple(range(1, features.ndim - keep))
        return features.mean(dim=dims) if dims else features
    raise ValueError(f"Invalid value for the 'pooling' parameter. Allowed values are "
                     f"['mean', 'flatten'], but got {pooling!r}.")


class FoundationEncoder(nn.Module):
    """A braindecode foundation model used through ``return_features``.

    Parameters
    ----------
    net : nn.Module
        The braindecode model; its ``final_layer`` is never used.
    pooling : {"mean", "flatten"}
        How token features become one vector.
    layer_names : list of str
        Attribute paths of the layers offered to layer-wise probing.
    forward_kwargs : dict
        Extra keyword arguments for ``net.forward`` (e.g. LaBraM's ``ch_names``).
    use_cls : bool
        Use the ``cls_token`` output instead of pooled patch features (LaBraM).
    """

    def __init__(self, net: nn.Module, pooling: str, layer_names: list[str],
                 forward_kwargs: dict[str, Any] | None = None, use_cls: bool = False) -> None:
        super().__init__()
        self.net = net
        self.net.final_layer = nn.Identity()
        self.pooling = pooling
        self.layer_names = layer_names
        self.forward_kwargs = dict(forward_kwargs or {})
        self.use_cls = use_cls

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        out = self.net(x, return_features=True, **self.forward_kwargs)
        if self.use_cls and out.get("cls_token") is not None:
            return out["cls_token"]
        return _pool(out["features"], self.pooling, keep=1)

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


class FoundationModel(TorchBenchmarkModel):
    """Common logic of the foundation-model wrappers.

    Parameters
    ----------
    arch_params : dict, optional
        Architecture overrides (must match the checkpoint's architecture). Values recorded in a
        checkpoint's metadata (``<checkpoint>.json``, written by ``+exp=pretrain``) take
        precedence.
    pooling : {"mean", "flatten"}
        Token pooling before the linear head.
    trainer, adaptation, checkpoint, checkpoint_sha256
        See :class:`~eegbench.models.torch_model.TorchBenchmarkModel`.
    """

    family = "foundation"
    arch: str = ""
    key_layout: str = ""
    default_arch: dict[str, Any] = {}

    def __init__(self, arch_params: dict[str, Any] | None = None, pooling: str = "mean",
                 trainer: Any = None, adaptation: str = "finetune",
                 checkpoint: str | None = None, checkpoint_sha256: str | None = None,
                 allow_unpinned: bool = False, **_: Any) -> None:
        super().__init__(trainer=trainer, adaptation=adaptation, checkpoint=checkpoint,
                         checkpoint_sha256=checkpoint_sha256, allow_unpinned=allow_unpinned)
        self.arch_params = {**self.default_arch, **dict(arch_params or {})}
        self.arch_params = self.resolved_arch()
        self.pooling = pooling
        self.contract = self.make_contract()

    def make_contract(self) -> InputContract:
        """Return the input contract (subclasses)."""
        return InputContract()

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
        cls = getattr(import_braindecode_models(), self.arch)
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


@MODELS.register("cbramod")
class CBraModModel(FoundationModel):
    """CBraMod (Wang et al. 2025): criss-cross transformer on 1 s patches at 200 Hz.

    Input contract: 200 Hz, patches of 200 samples, any channels, units of 100 uV.
    """

    arch = "CBraMod"
    key_layout = "cbramod"

    def make_contract(self) -> InputContract:  # noqa: D102
        patch = int(self.arch_params.get("patch_size", 200))
        return InputContract(sfreq=200.0, patch_size=patch, units="100uV", scale=0.01)

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:  # noqa: D102
        net = self.network(signal, adapter)
        return FoundationEncoder(net, self.pooling, ["patch_embedding", "encoder.layers"])


@MODELS.register("labram")
class LaBraMModel(FoundationModel):
    """LaBraM (Jiang et al. 2024) with its neural tokenizer (temporal conv patch embedding).

    Input contract: 200 Hz, patches of 200 samples, channels from LaBraM's 128-name
    vocabulary (others dropped; position embeddings chosen by name), units of 100 uV.
    """

    arch = "Labram"
    key_layout = "labram"
    default_arch = {"neural_tokenizer": True}

    def make_contract(self) -> InputContract:  # noqa: D102
        import_braindecode_models()  # installs the torchaudio stub first
        from braindecode.models.labram import LABRAM_CHANNEL_ORDER

        patch = int(self.arch_params.get("patch_size", 200))
        return InputContract(sfreq=200.0, patch_size=patch, units="100uV", scale=0.01,
                             vocabulary=tuple(LABRAM_CHANNEL_ORDER))

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:  # noqa: D102
        net = self.network(signal, adapter)
        return FoundationEncoder(net, self.pooling, ["patch_embed", "blocks"],
                                 forward_kwargs={"ch_names": list(adapter.out_ch_names)},
                                 use_cls=self.pooling == "cls")


@MODELS.register("biot")
class BIOTModel(FoundationModel):
    """BIOT (Yang et al. 2023): STFT tokens per channel + linear-attention transformer.

    Input contract: 200 Hz, each channel divided by its 95th percentile of |x|; with
    ``montage="tcp16"`` (default, as pretrained) the 16 TCP bipolar derivations are computed
    from 10-20 channel names; ``montage="monopolar"`` keeps the dataset's channels.
    """

    arch = "BIOT"
    key_layout = "biot"

    def __init__(self, montage: str = "tcp16", **kwargs: Any) -> None:
        self.montage = montage
        super().__init__(**kwargs)

    def make_contract(self) -> InputContract:  # noqa: D102
        if self.montage not in ("tcp16", "monopolar"):
            raise ValueError(f"Invalid value for the 'montage' parameter. Allowed values are "
                             f"['tcp16', 'monopolar'], but got {self.montage!r}.")
        return InputContract(sfreq=200.0, units="p95-normalised", normalize="p95",
                             bipolar=TCP16 if self.montage == "tcp16" else ())

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:  # noqa: D102
        net = self.network(signal, adapter)
        return FoundationEncoder(net, self.pooling, ["encoder.patch_embedding",
                                                     "encoder.transformer.layers.layers"])


@MODELS.register("eegpt")
class EEGPTModel(FoundationModel):
    """EEGPT (Wang et al. 2024): dual self-supervised transformer on 64-sample patches.

    Input contract: 256 Hz, patches of 64 samples, channels from EEGPT's 62-name vocabulary
    (embeddings chosen by name), units of mV.
    """

    arch = "EEGPT"
    key_layout = "eegpt"

    def make_contract(self) -> InputContract:  # noqa: D102
        import_braindecode_models()  # installs the torchaudio stub first
        from braindecode.models.eegpt import _get_eegpt_channels

        patch = int(self.arch_params.get("patch_size", 64))
        return InputContract(sfreq=256.0, patch_size=patch, units="mV", scale=1e-3,
                             vocabulary=tuple(_get_eegpt_channels()))

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:  # noqa: D102
        chs_info = [{"ch_name": n} for n in adapter.out_ch_names]
        net = self.network(signal, adapter, chs_info=chs_info)
        return FoundationEncoder(net, self.pooling, ["chan_proj", "target_encoder.blocks"])
