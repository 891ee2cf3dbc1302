"""Few-shot calibration of a trained deep model, and the fit of a few-shot fold.

Fine-tune a copy of a trained model on a few labelled test-subject windows (the few-shot
protocol's "cross-subject then calibrate" mode, :mod:`eegbench.protocols.fewshot`), or fit a
model on those windows alone (its "from scratch" mode): :func:`fit_fewshot`.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from eegbench.checks import check_keys
from eegbench.protocols.splitters import Fold
from eegbench.training.loop import class_weights, seed_everything, train_one_epoch

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class CalibrationSpec:
    """How a cross-subject deep model is fine-tuned on the k calibration windows.

    A fixed budget (no early stopping: the only labelled data of the test subject are the
    calibration windows, and nothing may be selected on its evaluated windows).

    Attributes
    ----------
    max_epochs : int
        Passes over the calibration windows.
    lr : float
        AdamW learning rate (smaller than training, to stay near the cross-subject solution).
    batch_size : int
        Mini-batch size.
    freeze_norm : bool
        Keep normalisation layers in evaluation mode (their running statistics are not
        re-estimated from a handful of windows).
    """

    max_epochs: int = 10
    lr: float = 3e-4
    batch_size: int = 32
    freeze_norm: bool = True

    @classmethod
    def from_config(cls, cfg: Any) -> CalibrationSpec:
        """Build from a mapping (``None`` gives the defaults); unknown keys are an error."""
        cfg = dict(cfg or {})
        check_keys("protocol.calibrate", list(cfg), list(cls.__dataclass_fields__))
        return cls(**cfg)


def torch_module(model: Any) -> nn.Module | None:
    """Return the fitted ``torch.nn.Module`` of a benchmark model, or None (classical)."""
    module = getattr(model, "module", None)
    return module if isinstance(module, nn.Module) else None


def _set_train_mode(module: nn.Module, freeze_norm: bool) -> None:
    module.train()
    if freeze_norm:
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._NormBase | nn.GroupNorm | nn.LayerNorm):
                m.eval()


def finetune_on_shots(module: nn.Module, X: np.ndarray, y: np.ndarray, n_classes: int,
                      spec: CalibrationSpec, seed: int) -> dict[str, Any]:
    """Fine-tune every trainable parameter of ``module`` on (X, y) for a fixed budget.

    Returns
    -------
    dict
        ``calib_epochs`` and the last epoch's ``calib_loss``.
    """
    seed_everything(seed)
    device = next(module.parameters()).device
    loss_fn = nn.CrossEntropyLoss(weight=class_weights(np.asarray(y), n_classes).to(device))
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec.lr)
    rng = np.random.default_rng(seed)
    loss_value = float("nan")
    for _ in range(spec.max_epochs):
        _set_train_mode(module, spec.freeze_norm)
        loss_value = train_one_epoch(module, X, y, loss_fn, optimizer, spec.batch_size,
                                     rng.permutation(len(X)), device, min_batch_size=1)
    module.eval()
    return {"calib_epochs": spec.max_epochs, "calib_loss": loss_value}


def calibrate(model: Any, X: np.ndarray, y: np.ndarray, n_classes: int,
              spec: CalibrationSpec, seed: int) -> tuple[Any, dict[str, Any]]:
    """Return a fine-tuned *copy* of a fitted deep benchmark model (the original is unchanged).

    Raises
    ------
    TypeError
        If ``model`` has no fitted ``module`` attribute (a classical model: refit it on the
        training and calibration windows instead).
    """
    if torch_module(model) is None:
        raise TypeError(f"{type(model).__name__} has no fitted torch module to calibrate.")
    calibrated = copy.deepcopy(model)
    report = finetune_on_shots(calibrated.module, X, y, n_classes, spec, seed)
    return calibrated, report


class BaseModelCache:
    """Keeps the last cross-subject model, so the k x draws calibrations of a subject share it.

    Folds come ordered by subject, so one entry suffices; its key is (seed, train windows).
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._value: tuple[Any, dict[str, Any], float] | None = None

    def get(self, key: tuple, fit: Callable[[], tuple[Any, dict[str, Any], float]]):
        """Return the cached (model, report, seconds) for ``key``, fitting it if needed."""
        if key != self._key:
            self._key, self._value = None, None
            self._value = fit()
            self._key = key
        return self._value


def fit_fewshot(build: Callable[[], Any], X: np.ndarray, y: np.ndarray, fold: Fold,
                signal: Any, seed: int, spec: CalibrationSpec,
                cache: BaseModelCache | None = None) -> tuple[Any, dict[str, Any], float]:
    """Fit a model for a few-shot fold; return (model, fit report, training seconds).

    ``from_scratch``: ``build()`` fitted on the calibration windows with a fixed budget: ``build``
    must give a model whose early stopping never triggers (``run.py`` sets the trainer's
    patience above ``max_epochs``), and the calibration windows are passed as its validation
    data, so no other subject and no evaluated window is seen.
    ``cross_subject_then_calibrate``: deep models are trained on the training
    subjects (early stopping on the validation subjects) once per subject and seed, then a copy
    is fine-tuned on the calibration windows (:func:`calibrate`);
    classical models (no torch module) are refitted on training + validation subjects +
    calibration windows.
    Training seconds include the cross-subject training.
    """
    Xv, yv = X[fold.valid], y[fold.valid]
    Xc, yc = X[fold.calib], y[fold.calib]
    if fold.calibration == "from_scratch" or len(fold.train) == 0:
        model = build()
        t0 = time.perf_counter()
        report = model.fit(Xc, yc, Xc, yc, signal, seed)
        return model, {**report, "calibration": "fit on calibration windows, fixed budget"}, \
            time.perf_counter() - t0

    def fit_base() -> tuple[Any, dict[str, Any], float]:
        model = build()
        t0 = time.perf_counter()
        report = model.fit(X[fold.train], y[fold.train], Xv, yv, signal, seed)
        return model, report, time.perf_counter() - t0

    key = (seed, fold.test_subjects, len(fold.train), int(fold.train.sum()))
    base, base_report, base_seconds = (cache or BaseModelCache()).get(key, fit_base)
    if torch_module(base) is not None:
        t0 = time.perf_counter()
        model, report = calibrate(base, Xc, yc, signal.n_outputs, spec, seed)
        seconds = time.perf_counter() - t0
        return model, {**base_report, **report, "base_train_seconds": round(base_seconds, 3),
                       "calibration": "fine-tune cross-subject model"}, base_seconds + seconds
    # Classical pipeline (no early stopping): refit on every non-test subject (training and
    # validation subjects) + calibration windows.
    model = build()
    both = np.concatenate([fold.train, fold.valid, fold.calib])
    t0 = time.perf_counter()
    report = model.fit(X[both], y[both], Xv, yv, signal, seed)
    return model, {**report, "calibration": "refit on train + calibration windows"}, \
        time.perf_counter() - t0
