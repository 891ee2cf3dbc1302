"""Deep models from braindecode, trained with :func:`eegbench.train.fit_classifier`."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from eegbench._compat import import_braindecode_models
from eegbench.models.base import MODELS, BenchmarkModel, SignalSpec
from eegbench.train import TrainerSpec, fit_classifier, predict_proba, resolve_device


class BraindecodeClassifier(BenchmarkModel):
    """A braindecode architecture trained end to end (full fine-tuning from random init).

    Parameters
    ----------
    arch : str
        Class name in :mod:`braindecode.models` (e.g. ``"EEGNet"``).
    arch_params : dict, optional
        Extra keyword arguments for the architecture.
    trainer : dict or TrainerSpec, optional
        Optimisation settings.
    family : str
        Leaderboard family ("specialist" or "foundation").
    """

    def __init__(self, arch: str, arch_params: dict[str, Any] | None = None,
                 trainer: Any = None, family: str = "specialist") -> None:
        self.arch = arch
        self.arch_params = dict(arch_params or {})
        self.trainer = trainer if isinstance(trainer, TrainerSpec) else TrainerSpec.from_config(
            trainer or {})
        self.family = family
        self.module: torch.nn.Module | None = None
        self.report = None

    def build(self, signal: SignalSpec) -> torch.nn.Module:
        """Instantiate the architecture for ``signal``'s shape."""
        models = import_braindecode_models()
        cls = getattr(models, self.arch, None)
        if cls is None:
            raise ValueError(f"braindecode has no model named {self.arch!r}.")
        return cls(n_chans=signal.n_chans, n_outputs=signal.n_outputs, n_times=signal.n_times,
                   sfreq=signal.sfreq, **self.arch_params)

    def fit(self, X_train, y_train, X_valid, y_valid, signal: SignalSpec, seed: int):
        """Build with ``seed`` and train with early stopping on the validation windows."""
        torch.manual_seed(seed)
        self.module = self.build(signal)
        self.report = fit_classifier(self.module, X_train, y_train, X_valid, y_valid,
                                     signal.n_outputs, self.trainer, seed)
        return {"best_epoch": self.report.best_epoch, "epochs_run": self.report.epochs_run,
                "best_valid_loss": self.report.best_valid_loss}

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return softmax probabilities."""
        if self.module is None:
            raise RuntimeError("Call fit() before predict_proba().")
        return predict_proba(self.module, X, device=resolve_device(self.trainer.device))

    def n_parameters(self) -> int:
        """Return the number of trainable parameters."""
        if self.module is None:
            raise RuntimeError("Call fit() before n_parameters().")
        return int(sum(p.numel() for p in self.module.parameters() if p.requires_grad))


def _register(name: str, arch: str, family: str = "specialist") -> None:
    def factory(arch_params: dict[str, Any] | None = None, trainer: Any = None,
                **_: Any) -> BraindecodeClassifier:
        return BraindecodeClassifier(arch, arch_params, trainer, family)

    factory.__name__ = f"build_{name}"
    factory.__doc__ = f"braindecode {arch} trained from scratch."
    MODELS.register(name, factory)


for _name, _arch in [("eegnet", "EEGNet"), ("shallow_fbcsp", "ShallowFBCSPNet"),
                     ("deep4", "Deep4Net")]:
    _register(_name, _arch)
