"""The encoder + head contract shared by every torch model (specialists and foundation models).

An :class:`EncoderClassifier` is ``adapter -> encoder -> head``: the adapter maps the dataset's
windows onto the model's input contract, the encoder maps (batch, channels, time) to a feature
vector (batch, n_features) and the head is a linear layer the protocol attaches (timm's
``forward_features`` / ``forward_head``; braindecode's ``return_features`` / ``reset_head``).
:class:`TorchBenchmarkModel` trains it under an ``adaptation``: ``from_scratch`` / ``finetune``
(everything trained) or ``linear_probe`` (encoder frozen, head trained).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eegbench.adaptation.peft_methods import PEFT_ADAPTATIONS
from eegbench.models.adapters import InputAdapter, InputContract
from eegbench.models.base import BenchmarkModel, SignalSpec, check_adaptation
from eegbench.train import (
    TrainerSpec,
    fit_classifier,
    iterate_batches,
    predict_proba,
    resolve_device,
)

logger = logging.getLogger(__name__)


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
    """

    def __init__(self, encoder: nn.Module, n_features: int, n_outputs: int,
                 adapter: nn.Module | None = None) -> None:
        super().__init__()
        self.adapter = adapter if adapter is not None else nn.Identity()
        self.encoder = encoder
        self.n_features = int(n_features)
        self.head = nn.Linear(self.n_features, n_outputs)
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
        """Replace the head by a freshly initialised linear layer with ``n_outputs``."""
        self.head = nn.Linear(self.n_features, n_outputs).to(self.head.weight.device)

    def freeze_encoder(self) -> list[nn.Parameter]:
        """Freeze the encoder (kept in eval mode); return the head's parameters."""
        for p in self.encoder.parameters():
            p.requires_grad_(False)
        self.encoder_frozen = True
        self.encoder.eval()
        return list(self.head.parameters())

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
    """A torch :class:`EncoderClassifier` trained with :func:`eegbench.train.fit_classifier`.

    Subclasses implement :meth:`build_encoder` (and may set :attr:`contract`).

    Parameters
    ----------
    trainer : dict or TrainerSpec, optional
        Optimisation settings.
    adaptation : {"from_scratch", "finetune", "linear_probe"}
        ``finetune`` and ``linear_probe`` need ``checkpoint``.
    checkpoint : str, optional
        Pretrained encoder weights: a file, a name under ``$EEGBENCH_WEIGHTS_DIR`` or
        ``hf://<owner>/<repo>@<commit>/<file>`` or ``known:<name>`` (see
        :mod:`eegbench.models.pretrained`).
    checkpoint_sha256 : str, optional
        Expected sha256 of the checkpoint file.
    allow_unpinned : bool
        Accept ``hf://`` checkpoints without a commit or sha256 (not reproducible).
    """

    family = "specialist"

    def __init__(self, trainer: Any = None, adaptation: str = "from_scratch",
                 checkpoint: str | None = None, checkpoint_sha256: str | None = None,
                 allow_unpinned: bool = False) -> None:
        self.trainer = trainer if isinstance(trainer, TrainerSpec) else TrainerSpec.from_config(
            trainer or {})
        self.adaptation = check_adaptation(adaptation)
        self.checkpoint = checkpoint
        self.checkpoint_sha256 = checkpoint_sha256
        self.allow_unpinned = bool(allow_unpinned)
        self.module: EncoderClassifier | None = None
        self.report = None
        self.signal: SignalSpec | None = None

    #: The model's input contract (default: take the data as they are).
    contract: InputContract = InputContract()

    @abstractmethod
    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:
        """Return the encoder for inputs shaped like ``adapter``'s output."""

    def load_encoder_weights(self, encoder: nn.Module, source: str) -> None:
        """Load pretrained weights into ``encoder`` (foundation models override this)."""
        from eegbench.models.pretrained import load_weights

        load_weights(encoder, source, sha256=self.checkpoint_sha256,
                     allow_unpinned=self.allow_unpinned)

    def build(self, signal: SignalSpec) -> EncoderClassifier:
        """Build adapter, encoder (pretrained if a checkpoint is set) and head for ``signal``."""
        adapter = InputAdapter(self.contract, signal.ch_names or [f"ch{i}" for i in range(
            signal.n_chans)], signal.sfreq, signal.n_times)
        encoder = self.build_encoder(signal, adapter)
        if self.checkpoint:
            self.load_encoder_weights(encoder, str(self.checkpoint))
        elif self.adaptation != "from_scratch":
            from eegbench.models.pretrained import missing_weights_error

            raise missing_weights_error(type(self).__name__, self.adaptation)
        n_features = infer_n_features(encoder, adapter, signal.n_chans, signal.n_times)
        return EncoderClassifier(encoder, n_features, signal.n_outputs, adapter)

    def fit(self, X_train, y_train, X_valid, y_valid, signal: SignalSpec, seed: int):
        """Build with ``seed`` and train (all weights, or only the head for a linear probe)."""
        if self.adaptation in PEFT_ADAPTATIONS:  # parameter-efficient fine-tuning with peft
            from eegbench.adaptation.peft_methods import fit_peft

            return fit_peft(self, X_train, y_train, X_valid, y_valid, signal, seed)
        torch.manual_seed(seed)
        self.signal = signal
        self.module = self.build(signal)
        if self.adaptation == "linear_probe":
            # The frozen encoder (eval mode) maps each window to fixed features: compute them
            # once and train only the head on them (same result as training through the
            # frozen encoder, without re-running it every epoch).
            params = self.module.freeze_encoder()
            self.module.to(resolve_device(self.trainer.device))
            features_train, features_valid = self.encode(X_train), self.encode(X_valid)
            self.report = fit_classifier(self.module.head, features_train, y_train,
                                         features_valid, y_valid, signal.n_outputs,
                                         self.trainer, seed)
        else:
            params = None
            self.report = fit_classifier(self.module, X_train, y_train, X_valid, y_valid,
                                         signal.n_outputs, self.trainer, seed)
        n_trainable = sum(p.numel() for p in (params or self.module.parameters()))
        return {"best_epoch": self.report.best_epoch, "epochs_run": self.report.epochs_run,
                "best_valid_loss": self.report.best_valid_loss, "n_trainable": int(n_trainable)}

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
        from eegbench.models.pretrained import safe_torch_load

        saved = safe_torch_load(path)
        self.signal = SignalSpec(**saved["signal"])
        checkpoint, self.checkpoint = self.checkpoint, None
        adaptation, self.adaptation = self.adaptation, "from_scratch"
        try:
            self.module = self.build(self.signal)
        finally:
            self.checkpoint, self.adaptation = checkpoint, adaptation
        if self.adaptation in PEFT_ADAPTATIONS:  # re-inject the adapters before their weights
            from eegbench.adaptation.peft_methods import restore_adapters

            restore_adapters(self)
        self.module.load_state_dict(saved["state_dict"])
        return self
