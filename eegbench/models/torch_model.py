"""The encoder + head contract shared by every torch model (specialists and foundation models).

An :class:`EncoderClassifier` is ``adapter -> encoder -> head``: the adapter maps the dataset's
windows onto the model's input contract, the encoder maps (batch, channels, time) to a feature
vector (batch, n_features) and the head (:class:`HeadSpec`: a linear layer, or an MLP as in
CBraMod's downstream classifier) maps it to logits (timm's ``forward_features`` /
``forward_head``; braindecode's ``return_features`` / ``reset_head``).
:class:`TorchBenchmarkModel` trains it under an ``adaptation`` from
:mod:`eegbench.adaptation` (``from_scratch``, ``finetune``, ``linear_probe``, ``lp_ft``, ...).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eegbench.adaptation.probe import (
    ProbeSpec,
    probe_features,
    probe_fit_report,
    train_and_valid,
)
from eegbench.adaptation.registry import check_adaptation, get_adaptation
from eegbench.checks import check_keys
from eegbench.features.frozen_encoder import FrozenEncoderTransform
from eegbench.models.base import BenchmarkModel, SignalSpec
from eegbench.models.binary_head import BINARY_OUTPUTS, OneLogitHead
from eegbench.models.input_contract import InputAdapter, InputContract
from eegbench.models.weights.loading import load_weights, missing_weights_error, safe_torch_load
from eegbench.training.loop import (
    TrainerSpec,
    iterate_batches,
    predict_proba,
    resolve_device,
)

logger = logging.getLogger(__name__)

#: Head kinds: a linear layer, or an MLP (CBraMod's "all_patch_reps" classifier: two hidden
#: ELU layers with dropout on the flattened patch tokens).
HEAD_KINDS = ("linear", "mlp")


@dataclass(frozen=True)
class HeadSpec:
    """The classification head (model yaml ``params.head``).

    Attributes
    ----------
    kind : {"linear", "mlp"}
    readout : {"mean", "cls", "flatten"}
        Which encoder output the head sees (foundation models; specialists flatten).
    hidden : list of int or None
        MLP widths; ``None`` gives CBraMod's ``[n_patches * 200, 200]`` pattern, i.e.
        ``[n_features // n_channels, 200]`` capped below ``n_features``.
    dropout : float
        Dropout after each hidden layer (CBraMod: 0.1).
    binary : {"two_logits", "one_logit"}
        On a binary task, ``one_logit`` ends the head in one output read as the logit of
        class 1 (BCE with logits, as CBraMod, BIOT and LaBraM train binary tasks;
        :mod:`eegbench.models.binary_head`); other tasks ignore it.
    """

    kind: str = "linear"
    readout: str = "mean"
    hidden: tuple[int, ...] | None = None
    dropout: float = 0.1
    binary: str = "two_logits"

    @classmethod
    def from_config(cls, cfg: Any) -> HeadSpec:
        """Build from a mapping (``None`` gives the defaults); unknown keys are an error."""
        cfg = dict(cfg or {})
        check_keys("model.params.head", list(cfg), list(cls.__dataclass_fields__))
        if cfg.get("kind", "linear") not in HEAD_KINDS:
            raise ValueError(f"Invalid value for the 'model.params.head.kind' parameter. "
                             f"Allowed values are {list(HEAD_KINDS)}, but got {cfg['kind']!r}.")
        if cfg.get("binary", "two_logits") not in BINARY_OUTPUTS:
            raise ValueError(f"Invalid value for the 'model.params.head.binary' parameter. "
                             f"Allowed values are {list(BINARY_OUTPUTS)}, but got "
                             f"{cfg['binary']!r}.")
        if cfg.get("hidden") is not None:
            cfg["hidden"] = tuple(int(h) for h in cfg["hidden"])
        return cls(**cfg)


def make_head(spec: HeadSpec, n_features: int, n_outputs: int,
              n_channels: int | None = None) -> nn.Module:
    """Return a fresh head for ``spec`` mapping ``n_features`` to ``n_outputs`` logits."""
    if spec.binary == "one_logit" and n_outputs == 2:
        return OneLogitHead(make_head(replace(spec, binary="two_logits"), n_features, 1,
                                      n_channels))
    if spec.kind == "linear":
        return nn.Linear(n_features, n_outputs)
    hidden = list(spec.hidden) if spec.hidden else [
        max(1, n_features // max(1, n_channels or 1)), 200]
    layers: list[nn.Module] = []
    width = n_features
    for h in hidden:
        layers += [nn.Linear(width, int(h)), nn.ELU(), nn.Dropout(spec.dropout)]
        width = int(h)
    layers.append(nn.Linear(width, n_outputs))
    return nn.Sequential(*layers)


class EncoderClassifier(nn.Module):
    """``adapter -> encoder -> linear head``.

    Parameters
    ----------
    encoder : nn.Module
        Maps adapted input (batch, channels, time) to features (batch, n_features).
    n_features : int
        Size of the feature vector.
    n_outputs : int
        Number of classes.
    adapter : nn.Module, optional
        Maps the dataset's windows to the encoder's input contract (default: identity).
    head : HeadSpec, optional
        The head (default: linear).
    n_channels : int, optional
        Channels of the adapted input (sets the default MLP width).
    """

    def __init__(self, encoder: nn.Module, n_features: int, n_outputs: int,
                 adapter: nn.Module | None = None, head: HeadSpec | None = None,
                 n_channels: int | None = None) -> None:
        super().__init__()
        self.adapter = adapter if adapter is not None else nn.Identity()
        self.encoder = encoder
        self.n_features = int(n_features)
        self.head_spec = head or HeadSpec()
        self.n_channels = n_channels
        self.head = make_head(self.head_spec, self.n_features, n_outputs, n_channels)
        self.encoder_frozen = False

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the encoder's features (batch, n_features)."""
        return self.encoder(self.adapter(x)).flatten(1)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Return logits from features."""
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits (batch, n_outputs)."""
        return self.forward_head(self.forward_features(x))

    def reset_head(self, n_outputs: int) -> None:
        """Replace the head by a freshly initialised one with ``n_outputs``."""
        device = next(self.head.parameters()).device
        self.head = make_head(self.head_spec, self.n_features, n_outputs,
                              self.n_channels).to(device)

    def freeze_encoder(self) -> list[nn.Parameter]:
        """Freeze the encoder (kept in eval mode); return the head's parameters."""
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder_frozen = True
        self.encoder.eval()
        return list(self.head.parameters())

    def unfreeze_encoder(self) -> None:
        """Make every encoder parameter trainable again (LP-FT's second stage)."""
        for p in self.encoder.parameters():
            p.requires_grad_(True)
        self.encoder_frozen = False

    def train(self, mode: bool = True) -> EncoderClassifier:
        """Set training mode; a frozen encoder stays in eval mode (dropout, batch norm off)."""
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        """Return the encoder's probe-able layers in forward order, as (name, module).

        Uses the encoder's own ``named_layers()`` when it defines one, else its direct
        children. Names are relative to ``self.encoder``.
        """
        own = getattr(self.encoder, "named_layers", None)
        if callable(own):
            return list(own())
        return [(n, m) for n, m in self.encoder.named_children()]


def infer_n_features(encoder: nn.Module, adapter: nn.Module, n_chans: int,
                     n_times: int) -> int:
    """Run a zero batch through ``adapter -> encoder`` and return the feature size."""
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        out = encoder(adapter(torch.zeros(2, n_chans, n_times)))
    encoder.train(was_training)
    return int(out.flatten(1).shape[1])


class TorchBenchmarkModel(BenchmarkModel):
    """A torch :class:`EncoderClassifier` trained under one of :mod:`eegbench.adaptation`.

    Subclasses implement :meth:`build_encoder` (and may set :attr:`contract`).

    Parameters
    ----------
    trainer : dict or TrainerSpec, optional
        Optimisation settings (the model yaml's ``recipe`` merged with the ``trainer`` group).
    adaptation : str
        A registered adaptation (:func:`eegbench.adaptation.adaptation_names`); all but
        ``from_scratch`` need ``checkpoint``.
    checkpoint : str, optional
        Pretrained encoder weights: a file, a name under ``$EEGBENCH_WEIGHTS_DIR`` or
        ``hf://<owner>/<repo>@<commit>/<file>`` or ``known:<name>`` (see
        :mod:`eegbench.models.weights.loading`).
    checkpoint_sha256 : str, optional
        Expected sha256 of the checkpoint file.
    head : dict, optional
        :class:`HeadSpec` settings.
    probe : dict, optional
        :class:`~eegbench.adaptation.probe.ProbeSpec` settings (linear probes, LP-FT).
    init : {"pretrained", "random"}
        ``random`` keeps the random initialisation under any adaptation (the checkpoint, if
        given, still sets the architecture through its metadata): the control that shows what
        pretraining adds to a probe or an LP-FT.
    allow_unpinned : bool
        Accept ``hf://`` checkpoints without a commit or sha256 (not reproducible).
    """

    family = "specialist"

    #: Whether the folds of a job may train stacked (``trainer.fold_parallel``): None lets
    #: :func:`eegbench.training.fold_parallel.support.stacking_blockers` check the network's
    #: layers, True
    #: vouches for them (a model whose layers are exact per fold under ``torch.func.vmap``),
    #: False always trains fold after fold.
    supports_fold_stacking: bool | None = None

    @property
    def uses_validation(self) -> bool:
        """True if the adaptation selects epochs on validation subjects (not a probe).

        Models that do not are given every non-test subject as training data by the protocol.
        """
        return get_adaptation(self.adaptation).uses_validation

    def __init__(self, trainer: Any = None, adaptation: str = "from_scratch",
                 checkpoint: str | None = None, checkpoint_sha256: str | None = None,
                 head: dict[str, Any] | None = None,
                 probe: dict[str, Any] | None = None, init: str = "pretrained",
                 allow_unpinned: bool = False) -> None:
        if init not in ("pretrained", "random"):
            raise ValueError(f"Invalid value for the 'model.params.init' parameter. Allowed "
                             f"values are ['pretrained', 'random'], but got {init!r}.")
        self.init = init
        self.trainer = trainer if isinstance(trainer, TrainerSpec) else TrainerSpec.from_config(
            trainer or {})
        self.adaptation = check_adaptation(adaptation)
        self.checkpoint = checkpoint
        self.checkpoint_sha256 = checkpoint_sha256
        self.head = HeadSpec.from_config(head)
        self.probe = ProbeSpec.from_config(probe)
        self.allow_unpinned = bool(allow_unpinned)
        self.module: EncoderClassifier | None = None
        self.report = None
        self.signal: SignalSpec | None = None

    #: The model's input contract (default: take the data as they are).
    contract: InputContract = InputContract()

    def effective_head(self) -> HeadSpec:
        """Return the head used under the current adaptation.

        Probing adaptations (``linear_probe``, ``lp_ft``) use a linear head on the probe's
        readout; the others use the configured head.
        """
        if get_adaptation(self.adaptation).linear_head:
            return HeadSpec(kind="linear", readout=self.probe.readout)
        return self.head

    @abstractmethod
    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:
        """Return the encoder for inputs shaped like ``adapter``'s output."""

    def load_encoder_weights(self, encoder: nn.Module, source: str) -> None:
        """Load pretrained weights into ``encoder`` (foundation models override this)."""
        load_weights(encoder, source, sha256=self.checkpoint_sha256,
                     allow_unpinned=self.allow_unpinned)

    def build(self, signal: SignalSpec) -> EncoderClassifier:
        """Build adapter, encoder (pretrained if a checkpoint is set) and head for ``signal``."""
        adapter = InputAdapter(self.contract, signal.ch_names or [f"ch{i}" for i in range(
            signal.n_chans)], signal.sfreq, signal.n_times)
        encoder = self.build_encoder(signal, adapter)
        if self.init == "random":
            logger.info("%s: random initialisation (model.params.init=random), no weights "
                        "loaded", type(self).__name__)
        elif self.checkpoint:
            self.load_encoder_weights(encoder, str(self.checkpoint))
        elif get_adaptation(self.adaptation).needs_checkpoint:
            raise missing_weights_error(type(self).__name__, self.adaptation)
        n_features = infer_n_features(encoder, adapter, signal.n_chans, signal.n_times)
        return EncoderClassifier(encoder, n_features, signal.n_outputs, adapter,
                                 head=self.effective_head(),
                                 n_channels=len(adapter.out_ch_names))

    def fit(self, X_train, y_train, X_valid, y_valid, signal: SignalSpec, seed: int):
        """Build with ``seed`` and train under the configured adaptation.

        Returns
        -------
        dict
            The adaptation's report (``best_epoch``, ``epochs_run``, ``n_trainable``,
            ``budget``, probe convergence, ...).
        """
        torch.manual_seed(seed)
        self.signal = signal
        self.module = self.build(signal)
        report = get_adaptation(self.adaptation).fit(self, X_train, y_train, X_valid, y_valid,
                                                     signal, seed)
        self.report = report
        return report

    def fold_invariant_transformer(self, signal: SignalSpec, seed: int | None = None
                                   ) -> FrozenEncoderTransform | None:
        """Return the frozen encoder as a transform under ``linear_probe``, else None.

        The probed encoder is the same in every fold (pretrained weights, or the random
        initialisation drawn from ``seed``), so its readout is fold-invariant and is computed
        once per dataset and seed (:mod:`eegbench.features.frozen_encoder`). Other adaptations
        train the encoder and have no fold-invariant steps; so has a random initialisation
        without a seed.
        """
        if self.adaptation != "linear_probe" or (self.init == "random" and seed is None):
            return None
        self._build_frozen(signal, seed)
        return FrozenEncoderTransform(self.module, type(self).__name__,
                                      batch_size=self.trainer.batch_size)

    def _build_frozen(self, signal: SignalSpec, seed: int | None) -> None:
        """Build the module as :meth:`fit` does (seeded) and freeze its encoder."""
        if seed is not None:
            torch.manual_seed(seed)
        self.signal = signal
        self.module = self.build(signal)
        self.module.freeze_encoder()
        self.module.to(resolve_device(self.trainer.device))

    def fit_features(self, F_train, y_train, F_valid, y_valid, signal: SignalSpec,
                     seed: int) -> dict[str, Any]:
        """Fit the linear probe on precomputed frozen-encoder features (no window is re-encoded).

        The same probe as ``linear_probe``'s :meth:`fit` on windows, on every non-test subject
        (training and validation features together); the model then also predicts from
        windows (:meth:`predict_proba`).
        """
        if self.adaptation != "linear_probe":
            raise ValueError(f"Invalid value for the 'adaptation' parameter: precomputed "
                             f"features fit only 'linear_probe', but got {self.adaptation!r}.")
        self._build_frozen(signal, seed)
        F, y = train_and_valid(F_train, y_train, F_valid, y_valid)
        self.report = {**probe_fit_report(probe_features(self, F, y, signal.n_outputs)),
                       "fold_invariant_features": "precomputed (frozen encoder, once per "
                                                  "dataset and seed)"}
        return self.report

    @torch.no_grad()
    def predict_proba_features(self, F: np.ndarray) -> np.ndarray:
        """Return the probed head's class probabilities for precomputed encoder features."""
        module = self._require_module()
        module.eval()
        device = next(module.head.parameters()).device
        logits = module.forward_head(torch.as_tensor(np.asarray(F), dtype=torch.float32,
                                                     device=device))
        return torch.softmax(logits, dim=1).cpu().numpy()

    def _require_module(self) -> EncoderClassifier:
        if self.module is None:
            raise RuntimeError(f"Call fit() on {type(self).__name__} first.")
        return self.module

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return softmax probabilities."""
        module = self._require_module()
        return predict_proba(module, X, device=resolve_device(self.trainer.device))

    @torch.no_grad()
    def encode(self, X: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Return the encoder features of ``X`` (eval mode), shape (n_windows, n_features)."""
        module = self._require_module()
        module.eval()
        device = next(module.parameters()).device
        out = [module.forward_features(xb.to(device)).cpu().numpy()
               for xb, _ in iterate_batches(X, None, batch_size, np.arange(len(X)))]
        return np.concatenate(out) if out else np.empty((0, module.n_features), np.float32)

    def n_parameters(self) -> int:
        """Return the number of parameters of adapter, encoder and head."""
        return int(sum(p.numel() for p in self._require_module().parameters()))

    def save(self, path: str | Path) -> Path:
        """Save the fitted module's weights and the signal it was built for."""
        module = self._require_module()
        path = Path(path)
        torch.save({"state_dict": module.state_dict(), "signal": vars(self.signal).copy()}, path)
        return path

    def load(self, path: str | Path) -> TorchBenchmarkModel:
        """Rebuild the module for the saved signal and load the saved weights."""
        saved = safe_torch_load(path)
        self.signal = SignalSpec(**saved["signal"])
        # the saved weights replace everything: build without loading the checkpoint, under
        # the saved adaptation (which decides the head: linear for probes, else the config's)
        init, self.init = self.init, "random"
        try:
            self.module = self.build(self.signal)
        finally:
            self.init = init
        restore = get_adaptation(self.adaptation).restore
        if restore is not None:  # e.g. re-inject PEFT adapters before their weights
            restore(self)
        self.module.load_state_dict(saved["state_dict"])
        return self
