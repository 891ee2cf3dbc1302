"""Every braindecode model by name: ``model=braindecode model.params.arch=EEGNeX``.

One generic wrapper turns any :mod:`braindecode.models` class into an eegbench model: the signal
parameters (``n_chans``, ``n_times``, ``sfreq``, ``chs_info`` with the dataset's channel names
and positions, ``n_outputs``) come from the dataset, the model's ``final_layer`` is replaced by
the benchmark's linear head (a model without one, such as the SignalJEPA backbone, is used as
an encoder as it is), and an optional ``contract`` brings the data to the model's input
contract (e.g. ``contract: {sfreq: 200}``).

:func:`eegbench.models.braindecode_catalogue.catalogue` lists every model braindecode ships,
with the reason for those that cannot run in eegbench, which :class:`BraindecodeZooModel`
raises before building anything.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from eegbench.models.base import SignalSpec
from eegbench.models.braindecode_catalogue import (
    DEFAULT_CONTRACTS,
    NO_CHS_INFO,
    POSITION_BANK,
    ModelUnavailableError,
    family_of,
    model_class,
    offline_position_bank,
    unavailable_reason,
)
from eegbench.models.input_contract import InputAdapter, InputContract
from eegbench.models.torch_model import TorchBenchmarkModel
from eegbench.models.weights.loading import KEY_MAPPINGS, load_weights

logger = logging.getLogger(__name__)


def chs_info_from(signal: SignalSpec, ch_names: list[str]) -> list[dict[str, Any]]:
    """MNE-style ``chs_info`` (name, kind, 12-element loc) from the dataset's channels."""
    out = []
    types = dict(zip(signal.ch_names, signal.ch_types, strict=False))
    for name in ch_names:
        loc = np.zeros(12)
        pos = signal.ch_pos.get(name)
        if pos is not None:
            loc[:3] = pos
        out.append({"ch_name": name, "kind": types.get(name, "eeg"), "loc": loc})
    return out


def strip_head(net: nn.Module) -> bool:
    """Replace ``net.final_layer`` by identities (in place); False if the model has none."""
    final = getattr(net, "final_layer", None)
    if final is None:
        return False
    if isinstance(final, nn.ModuleList):
        net.final_layer = nn.ModuleList([nn.Identity() for _ in final])
    else:
        net.final_layer = nn.Identity()
    return True


class ZooEncoder(nn.Module):
    """A braindecode network without its classifier: (batch, chans, time) -> (batch, features).

    Parameters
    ----------
    net : nn.Module
        The braindecode model; its ``final_layer`` (if any) is replaced by an identity.
    pooling : {"flatten", "mean"}
        How a multi-dimensional output becomes one vector: ``flatten`` keeps everything,
        ``mean`` averages every axis but the last (tokens -> embedding).
    forward_kwargs : dict, optional
        Extra keyword arguments of ``net.forward`` (e.g. LaBraM's ``ch_names``).
    """

    def __init__(self, net: nn.Module, pooling: str = "flatten",
                 forward_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.forward_kwargs = dict(forward_kwargs or {})
        #: braindecode's feature tap (``forward(x, return_features=True)``) when it has one;
        #: otherwise the classifier (``final_layer``) is replaced by an identity.
        self.tap = "return_features" in inspect.signature(net.forward).parameters
        self.had_head = strip_head(net)
        self.net = net
        if pooling not in ("flatten", "mean"):
            raise ValueError(f"Invalid value for the 'pooling' parameter. Allowed values are "
                             f"['flatten', 'mean'], but got {pooling!r}.")
        self.pooling = pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        kwargs = {"return_features": True} if self.tap else {}
        out = self.net(x, **kwargs, **self.forward_kwargs)
        if isinstance(out, dict):
            out = out.get("features", next(iter(out.values())))
        elif isinstance(out, (tuple, list)):
            out = out[0]
        if self.pooling == "mean" and out.ndim > 2:
            out = out.mean(dim=tuple(range(1, out.ndim - 1)))
        return out.flatten(1)

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        """Return the network's top-level blocks that hold parameters (head excluded)."""
        layers = [(f"net.{n}", m) for n, m in self.net.named_children()
                  if n != "final_layer" and any(True for _ in m.parameters())]
        return layers or [("net", self.net)]  # parameters held by the network itself


class BraindecodeZooModel(TorchBenchmarkModel):
    """Any braindecode model, by class name, with the benchmark's linear head.

    Parameters
    ----------
    arch : str
        Class name in :mod:`braindecode.models` (``python -m eegbench.models list``).
    arch_params : dict, optional
        Extra keyword arguments for the class (architecture size, dropout, ...).
    contract : dict, optional
        Input contract fields (:class:`~eegbench.models.input_contract.InputContract`: ``sfreq``,
        ``patch_size``, ``max_times``, ``scale``, ``units``, ``vocabulary``) the data are
        brought to before the network; default: :data:`DEFAULT_CONTRACTS`, else the data as
        they are.
    pooling : {"flatten", "mean"}, optional
        How the network's output becomes the feature vector; default ``mean`` (over tokens)
        for models with a ``return_features`` tap, else ``flatten``.
    family : str, optional
        Leaderboard family; default from braindecode's tags ("foundation" or "specialist").
    key_layout : str
        Key mapping for checkpoints (:data:`eegbench.models.weights.loading.KEY_MAPPINGS`).
    trainer, adaptation, checkpoint, checkpoint_sha256, allow_unpinned
        See :class:`~eegbench.models.torch_model.TorchBenchmarkModel`.

    Raises
    ------
    ModelUnavailableError
        When the model is listed in :data:`UNAVAILABLE` (or needs the missing torchaudio).
    """

    def __init__(self, arch: str, arch_params: dict[str, Any] | None = None,
                 contract: dict[str, Any] | None = None, pooling: str | None = None,
                 family: str | None = None, key_layout: str = "braindecode",
                 trainer: Any = None, adaptation: str = "from_scratch",
                 checkpoint: str | None = None, checkpoint_sha256: str | None = None,
                 allow_unpinned: bool = False) -> None:
        super().__init__(trainer=trainer, adaptation=adaptation, checkpoint=checkpoint,
                         checkpoint_sha256=checkpoint_sha256, allow_unpinned=allow_unpinned)
        self.name = arch
        self.cls = model_class(arch)
        reason = unavailable_reason(arch)
        if reason:
            raise ModelUnavailableError(f"braindecode model {arch!r} cannot run in eegbench: "
                                        f"{reason}.")
        self.arch_params = dict(arch_params or {})
        self.family = family or family_of(arch)
        # a feature tap returns tokens: average them; a headless output is flattened
        self.pooling = pooling or ("mean" if "return_features" in inspect.signature(
            self.cls.forward).parameters else "flatten")
        self.key_layout = key_layout
        fields = dict(contract or DEFAULT_CONTRACTS.get(arch, {}))
        for key in ("vocabulary", "ch_names"):
            if key in fields:
                fields[key] = tuple(fields[key])
        self.contract = InputContract(**fields)

    def build_network(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:
        """Instantiate the braindecode class for the adapted input."""
        kwargs: dict[str, Any] = {"n_outputs": signal.n_outputs,
                                  "n_times": adapter.out_times, "sfreq": adapter.out_sfreq}
        accepted = inspect.signature(self.cls.__init__).parameters
        names = list(adapter.out_ch_names)
        if ("chs_info" in accepted and signal.ch_names and self.name not in NO_CHS_INFO
                and adapter.mode in ("identity", "select", "reorder")):
            kwargs["chs_info"] = chs_info_from(signal, names)
        kwargs["n_chans"] = len(names)
        kwargs = {k: v for k, v in kwargs.items() if k in accepted or any(
            p.kind == p.VAR_KEYWORD for p in accepted.values())}
        bank = ({n: list(map(float, signal.ch_pos.get(n, (0.0, 0.0, 0.0)))) for n in names}
                if self.name in POSITION_BANK else None)
        try:
            if bank is None:
                return self.cls(**kwargs, **self.arch_params)
            with offline_position_bank(bank):
                return self.cls(**kwargs, **self.arch_params)
        except Exception as err:
            raise ValueError(
                f"braindecode {self.name} could not be built for this dataset ({len(names)} "
                f"channels, {adapter.out_times} samples at {adapter.out_sfreq:g} Hz, "
                f"{signal.n_outputs} classes): {type(err).__name__}: {err}") from err

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:
        """Return the network without its classifier."""
        net = self.build_network(signal, adapter)
        extra = {}
        if "ch_names" in inspect.signature(net.forward).parameters:  # e.g. LaBraM
            extra["ch_names"] = list(adapter.out_ch_names)
        return ZooEncoder(net, self.pooling, extra)

    def load_encoder_weights(self, encoder: nn.Module, source: str) -> None:
        """Load a checkpoint into the braindecode network (classifier keys skipped)."""
        load_weights(encoder.net, source, sha256=self.checkpoint_sha256,
                     mapping=KEY_MAPPINGS[self.key_layout], skip_prefixes=("final_layer.",),
                     allow_unpinned=self.allow_unpinned)


def build_braindecode(arch: str | None = None, **params: Any) -> BraindecodeZooModel:
    """Any braindecode model by class name (``model.params.arch=EEGNeX``)."""
    if not arch:
        raise ValueError("The 'braindecode' model needs a class name: "
                         "model.params.arch=<braindecode model> (`python -m eegbench.models "
                         "list` shows them all).")
    return BraindecodeZooModel(arch, **params)


def factory_by_name(name: str) -> Callable[..., BraindecodeZooModel]:
    """Return the factory of ``braindecode.<Class>`` (the architecture fixed)."""
    arch = name.removeprefix("braindecode.")

    def factory(**params: Any) -> BraindecodeZooModel:
        given = params.pop("arch", arch)
        if given != arch:
            raise ValueError(f"Invalid value for the 'arch' parameter: the model "
                             f"'braindecode.{arch}' is {arch!r}, but got {given!r}.")
        return BraindecodeZooModel(arch, **params)

    factory.__name__ = f"build_braindecode_{arch}"
    factory.__doc__ = f"braindecode {arch} through the generic wrapper."
    return factory
