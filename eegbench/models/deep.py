"""Specialist CNNs / transformers from braindecode, trained end to end on each task.

Each braindecode network becomes an encoder by replacing its ``final_layer`` (the classifier)
with an identity; the benchmark's linear head takes its place. For ATCNet, whose classifier is
one dense layer per sliding window, the window features are averaged before the shared head.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from torch import nn

from eegbench._compat import braindecode_model_class
from eegbench.models.base import SignalSpec
from eegbench.models.eegnet_fast import (
    eegnet_forward,
    is_braindecode_eegnet,
    structural_mismatch,
)
from eegbench.models.input_contract import InputAdapter
from eegbench.models.torch_model import TorchBenchmarkModel
from eegbench.models.zoo import SPECIALISTS

logger = logging.getLogger(__name__)


def strip_final_layer(net: nn.Module) -> nn.Module:
    """Replace a braindecode model's ``final_layer`` by identities (in place) and return it."""
    final = getattr(net, "final_layer", None)
    if final is None:
        raise ValueError(f"{type(net).__name__} has no 'final_layer' to replace by a head.")
    if isinstance(final, nn.ModuleList):
        net.final_layer = nn.ModuleList([nn.Identity() for _ in final])
    else:
        net.final_layer = nn.Identity()
    return net


class BraindecodeEncoder(nn.Module):
    """A braindecode network without its classifier: (batch, chans, time) -> (batch, features).

    Parameters
    ----------
    net : nn.Module
        The braindecode network (its ``final_layer`` is replaced by an identity).
    fast_path : bool
        Run braindecode's EEGNet through its exact fused forward
        (:mod:`eegbench.models.eegnet_fast`: same parameters and numbers, several times
        faster on the CPU); other networks, and EEGNet variants whose layers it does not
        reproduce, run their own forward.
    """

    def __init__(self, net: nn.Module, fast_path: bool = True) -> None:
        super().__init__()
        self.net = strip_final_layer(net)
        reason = structural_mismatch(self.net) if fast_path else None
        if reason is not None and is_braindecode_eegnet(self.net):
            logger.info("EEGNet: stock forward (%s)", reason)
        self.fast_path = bool(fast_path) and reason is None

    def forward(self, x):  # noqa: D102
        if self.fast_path:
            return eegnet_forward(self.net, x).flatten(1)
        return self.net(x).flatten(1)

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        """Return the network's top-level blocks (the identity head excluded)."""
        return [(f"net.{n}", m) for n, m in self.net.named_children()
                if n != "final_layer" and any(True for _ in m.parameters())]


class BraindecodeClassifier(TorchBenchmarkModel):
    """A braindecode architecture trained end to end with the benchmark's linear head.

    Parameters
    ----------
    arch : str
        Class name in :mod:`braindecode.models` (e.g. ``"EEGNet"``).
    arch_params : dict, optional
        Extra keyword arguments for the architecture.
    trainer : dict or TrainerSpec, optional
        Optimisation settings.
    family : str
        Leaderboard family.
    **kwargs
        ``adaptation``, ``checkpoint``, ``checkpoint_sha256`` (see
        :class:`~eegbench.models.torch_model.TorchBenchmarkModel`).
    """

    def __init__(self, arch: str, arch_params: dict[str, Any] | None = None,
                 trainer: Any = None, family: str = "specialist", fast_path: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(trainer=trainer, **kwargs)
        self.arch = arch
        self.arch_params = dict(arch_params or {})
        self.family = family
        self.fast_path = bool(fast_path)

    def build_network(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:
        """Instantiate the braindecode architecture for the adapted input shape."""
        cls = braindecode_model_class(self.arch)
        return cls(n_chans=len(adapter.out_ch_names), n_outputs=signal.n_outputs,
                   n_times=adapter.out_times, sfreq=adapter.out_sfreq, **self.arch_params)

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:
        """Return the network without its classifier (EEGNet: with its exact fast forward)."""
        return BraindecodeEncoder(self.build_network(signal, adapter), fast_path=self.fast_path)


def specialist_factory(name: str) -> Callable[..., BraindecodeClassifier]:
    """Return the factory of the specialist ``name`` (:data:`~eegbench.models.zoo.SPECIALISTS`)."""
    arch, doc = SPECIALISTS[name]

    def factory(arch_params: dict[str, Any] | None = None, trainer: Any = None,
                adaptation: str = "from_scratch", checkpoint: str | None = None,
                checkpoint_sha256: str | None = None, allow_unpinned: bool = False,
                **_: Any) -> BraindecodeClassifier:
        return BraindecodeClassifier(arch, arch_params, trainer, "specialist",
                                     adaptation=adaptation, checkpoint=checkpoint,
                                     checkpoint_sha256=checkpoint_sha256,
                                     allow_unpinned=allow_unpinned)

    factory.__name__ = f"build_{name}"
    factory.__doc__ = f"braindecode {arch} ({doc}), trained end to end."
    return factory


def build_eegnet(arch_params: dict[str, Any] | None = None, trainer: Any = None,
                 adaptation: str = "from_scratch", checkpoint: str | None = None,
                 checkpoint_sha256: str | None = None, allow_unpinned: bool = False,
                 fast_path: bool = True, **_: Any) -> BraindecodeClassifier:
    """Build braindecode's EEGNet (Lawhern et al. 2018), trained end to end.

    ``fast_path`` (default true): the exact fused forward of
    :mod:`eegbench.models.eegnet_fast` (same parameters, outputs and gradients within float32
    rounding); ``false`` runs braindecode's own forward.
    """
    return BraindecodeClassifier("EEGNet", arch_params, trainer, "specialist",
                                 fast_path=fast_path, adaptation=adaptation,
                                 checkpoint=checkpoint, checkpoint_sha256=checkpoint_sha256,
                                 allow_unpinned=allow_unpinned)
