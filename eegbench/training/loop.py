"""The training loop for torch models: seeded, class-weighted, early stopping on validation.

Validation data come from the protocol's validation *subjects* (never the test subject).
:func:`fit_classifier` keeps the fit's windows on the training device
(:mod:`eegbench.training.resident`), reads the losses back once per epoch, and optionally trains
under
bf16 autocast (``trainer.precision: bf16``) and ``torch.compile`` (``trainer.compile: true``).
Several folds of one architecture can instead be trained together
(``trainer.fold_parallel``, :mod:`eegbench.training.fold_parallel`).
"""

from __future__ import annotations

import copy
import logging
import random
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from eegbench.progress import EpochProgress
from eegbench.training import selection
from eegbench.training.batchnorm import reestimate_batchnorm
from eegbench.training.optim import make_optimizer, make_scheduler, param_groups
from eegbench.training.resident import (
    ResidentWindows,
    batch_bounds,
    check_precision,
    mean_loss,
    train_epoch,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainerSpec:
    """Optimisation settings (Hydra group ``trainer``, merged over the model's ``recipe``).

    Attributes
    ----------
    max_epochs, batch_size : int
        Budget and mini-batch size.
    lr : float
        Learning rate of the encoder (the "backbone").
    head_lr : float or None
        Learning rate of the head (default: ``lr``); CBraMod trains its head at 5 x ``lr``.
    weight_decay : float
        Decoupled weight decay (AdamW) or L2 (Adam).
    optimizer : {"adamw", "adam"}
    schedule : {"constant", "cosine", "onecycle"}
        Per-step learning-rate schedule (:func:`eegbench.training.optim.make_scheduler`).
    warmup_epochs, warmup_lr, min_lr, pct_start : float
        Linear warm-up length and start lr, cosine floor, one-cycle warm-up fraction.
    label_smoothing : float
        Cross-entropy label smoothing.
    grad_clip : float or None
        Clip the gradient norm to this value.
    layer_decay : float or None
        Layer-wise lr decay (block ``i`` of ``L``: ``lr * layer_decay ** (L - i)``).
    no_weight_decay_1d : bool
        No weight decay on biases and normalisation weights.
    patience : int or None
        Stop after ``patience`` epochs without a better validation criterion (``select_on``);
        ``None`` (``0`` in a config) runs every epoch. Either way the best validation epoch's
        weights are restored.
    select_on : {"loss", "roc_auc"}
        What "best validation epoch" means: the lowest validation loss, or the highest
        validation ROC AUC (binary tasks; :mod:`eegbench.training.selection`).
    refit_on_train_valid : bool
        After model selection, retrain from the same initialisation on training + validation
        windows for the selected number of epochs.
    bn_reestimate : bool
        After every epoch (before the validation loss is computed, so that model selection
        and evaluation see the same statistics), re-estimate BatchNorm running statistics
        exactly on the training windows
        (:func:`eegbench.training.batchnorm.reestimate_batchnorm`).
    class_weighting : {"balanced", "none"}
    device : {"auto", "cpu", "cuda"}
    num_threads : int or None
    precision : {"fp32", "bf16"}
        ``bf16``: forward passes and losses under bf16 autocast (weights, gradients and the
        optimiser stay float32).
    compile : bool
        Run the module through ``torch.compile`` (the weights are shared with the module).
    fold_parallel : {"auto", "true", "false", "exact"}
        Train the folds of a protocol together in one process
        (:mod:`eegbench.training.fold_parallel`):
        ``true`` stacks them (batched kernels; equal to fold after fold up to float32
        rounding), ``exact`` stacks them but runs each fold's convolutions separately
        (bit-identical to fold after fold on the CPU with one thread, for verification;
        slower),
        ``false`` trains fold after fold, ``auto`` (default) stacks on CUDA devices and trains
        fold after fold on the CPU (where stacking EEGNet's 36 eegmat folds measured slower:
        ``benchmarks/fold_parallel_speed.py``). Models that cannot be stacked train fold
        after fold (the reason is logged).
    recipe_source : str
        Where the settings come from (a repository file or paper section), for the record.
    """

    max_epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    head_lr: float | None = None
    weight_decay: float = 0.0
    optimizer: str = "adamw"
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    warmup_lr: float = 1e-6
    min_lr: float = 1e-6
    pct_start: float = 0.3
    label_smoothing: float = 0.0
    grad_clip: float | None = None
    layer_decay: float | None = None
    no_weight_decay_1d: bool = False
    patience: int | None = 6
    select_on: str = "loss"
    refit_on_train_valid: bool = False
    bn_reestimate: bool = False
    class_weighting: str = "balanced"  # "balanced" or "none"
    device: str = "auto"  # "auto", "cpu", "cuda"
    num_threads: int | None = None
    precision: str = "fp32"
    compile: bool = False
    fold_parallel: str = "auto"
    recipe_source: str = ""

    def __post_init__(self) -> None:
        check_precision(self.precision)
        selection.check_select_on(self.select_on)
        object.__setattr__(self, "fold_parallel", check_fold_parallel(self.fold_parallel))

    @classmethod
    def from_config(cls, cfg: Any) -> TrainerSpec:
        """Build from a mapping; unknown keys are ignored and ``None`` keeps the default.

        ``patience: 0`` means no early stopping (every epoch runs; the best validation epoch
        is still restored).
        """
        allowed = cls.__dataclass_fields__.keys()
        values = {k: v for k, v in dict(cfg).items() if k in allowed and v is not None}
        if values.get("patience") == 0:
            values["patience"] = None
        return cls(**values)

    def merged(self, **overrides: Any) -> TrainerSpec:
        """Return a copy with ``overrides`` applied (``None`` values ignored)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def budget(self) -> dict[str, Any]:
        """Return the settings that define the optimisation budget (for result rows)."""
        keys = ("max_epochs", "batch_size", "optimizer", "lr", "head_lr", "weight_decay",
                "schedule", "warmup_epochs", "min_lr", "label_smoothing", "grad_clip",
                "layer_decay", "patience", "select_on", "refit_on_train_valid", "bn_reestimate",
                "class_weighting", "precision", "compile", "recipe_source")
        return {k: getattr(self, k) for k in keys}


#: Allowed values of ``trainer.fold_parallel``.
FOLD_PARALLEL = ("auto", "true", "false", "exact")


def check_fold_parallel(value: Any) -> str:
    """Return ``value`` as one of :data:`FOLD_PARALLEL` (YAML booleans accepted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value not in FOLD_PARALLEL:
        raise ValueError(f"Invalid value for the 'trainer.fold_parallel' parameter. Allowed "
                         f"values are {list(FOLD_PARALLEL)}, but got {value!r}.")
    return str(value)


@dataclass
class TrainReport:
    """What happened during training."""

    best_epoch: int
    epochs_run: int
    best_valid_loss: float
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    budget: dict[str, Any] = field(default_factory=dict)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) for reproducible runs."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """Return the torch device for ``"auto"``, ``"cpu"`` or ``"cuda"``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def iterate_batches(
    X: np.ndarray, y: np.ndarray | None, batch_size: int, order: np.ndarray
):
    """Yield (X, y) tensors batch by batch, reading only the batch from a memmap."""
    for start in range(0, len(order), batch_size):
        idx = np.sort(order[start : start + batch_size])
        xb = torch.from_numpy(np.ascontiguousarray(X[idx], dtype=np.float32))
        yb = None if y is None else torch.from_numpy(np.asarray(y[idx], dtype=np.int64))
        yield xb, yb


def class_weights(y: np.ndarray, n_classes: int) -> torch.Tensor:
    """Return inverse-frequency ("balanced") class weights, as scikit-learn computes them."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


@torch.no_grad()
def predict_proba(module: nn.Module, X: np.ndarray, batch_size: int = 256,
                  device: torch.device | None = None) -> np.ndarray:
    """Return softmax probabilities of ``module`` on ``X`` (evaluation mode)."""
    device = device or next(module.parameters()).device
    module.eval()
    out = []
    for xb, _ in iterate_batches(X, None, batch_size, np.arange(len(X))):
        out.append(torch.softmax(module(xb.to(device)), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.empty((0, 0))


def train_one_epoch(module: nn.Module, X: np.ndarray, y: np.ndarray, loss_fn: nn.Module,
                    optimizer: torch.optim.Optimizer, batch_size: int, order: np.ndarray,
                    device: torch.device, min_batch_size: int = 2,
                    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                    grad_clip: float | None = None) -> float:
    """Take one optimisation step per batch of ``order``; return the mean training loss.

    Batches smaller than ``min_batch_size`` are skipped (BatchNorm cannot train on a single
    sample). ``scheduler`` steps after every optimiser step; ``grad_clip`` clips the gradient
    norm first. The caller sets the module's train/eval mode.
    """
    total, n_seen = 0.0, 0
    for xb, yb in iterate_batches(X, y, batch_size, order):
        if len(yb) < min_batch_size:
            continue
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(module(xb.to(device)), yb.to(device))
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(
                [p for g in optimizer.param_groups for p in g["params"]], float(grad_clip))
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += loss.item() * len(yb)
        n_seen += len(yb)
    return total / max(n_seen, 1)


def make_losses(y_train: np.ndarray, n_classes: int, spec: TrainerSpec,
                device: torch.device) -> tuple[nn.Module, nn.Module]:
    """Return the training loss and the validation loss of a fit.

    Both are cross-entropies weighted by ``spec.class_weighting`` on the training labels; the
    training loss has ``spec.label_smoothing``, the validation loss none (a proper score for
    model selection).
    """
    weight = class_weights(y_train, n_classes) if spec.class_weighting == "balanced" else None
    weight = None if weight is None else weight.to(device)
    return (nn.CrossEntropyLoss(weight=weight, label_smoothing=float(spec.label_smoothing)),
            nn.CrossEntropyLoss(weight=weight))


def count_steps(n_windows: int, batch_size: int) -> int:
    """Return the optimiser steps of one epoch over ``n_windows`` (batches of one skipped)."""
    return len(batch_bounds(n_windows, batch_size, min_batch_size=2))


def compiled(module: nn.Module, spec: TrainerSpec):
    """Return ``torch.compile(module)`` if ``spec.compile``, else ``module`` itself."""
    return torch.compile(module) if spec.compile else module


def fit_classifier(
    module: nn.Module,
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_valid: np.ndarray,
    y_valid: np.ndarray,
    n_classes: int,
    spec: TrainerSpec,
    seed: int,
) -> TrainReport:
    """Train ``module`` with the trainer recipe and model selection on the validation loss.

    Optimiser, parameter groups (head lr, layer-wise decay), per-step schedule, label
    smoothing and gradient clipping follow ``spec``
    (:mod:`eegbench.training.optim`). With validation windows, the weights of the epoch with
    the lowest validation loss (or, with ``spec.select_on="roc_auc"``, the highest validation
    ROC AUC) are restored (early stopping after ``spec.patience`` epochs without improvement);
    without validation windows every epoch runs and the last weights
    are kept. The windows stay on the training device for the whole fit
    (:class:`~eegbench.training.resident.ResidentWindows`) and the losses are read back once per
    epoch.

    Parameters
    ----------
    module : nn.Module
        Maps (batch, channels, times) to logits (batch, n_classes).
    X_train, y_train, X_valid, y_valid : ndarray
        Training and validation windows and integer labels.
    n_classes : int
        Number of classes.
    spec : TrainerSpec
        Optimisation settings.
    seed : int
        Seed for weight init order, shuffling and dropout.

    Returns
    -------
    TrainReport
    """
    seed_everything(seed)
    if spec.num_threads:
        torch.set_num_threads(spec.num_threads)
    device = resolve_device(spec.device)
    module.to(device)
    select_on = selection.effective_select_on(spec.select_on, y_valid, n_classes)
    loss_fn, valid_loss_fn = make_losses(y_train, n_classes, spec, device)
    groups = param_groups(module, spec)
    optimizer = make_optimizer(groups, spec)
    steps_per_epoch = count_steps(len(X_train), spec.batch_size)
    scheduler = make_scheduler(optimizer, spec, steps_per_epoch)
    rng = np.random.default_rng(seed)
    train = ResidentWindows(X_train, y_train, device)
    valid = ResidentWindows(X_valid, y_valid, device)
    forward = compiled(module, spec)
    has_valid = len(valid) > 0
    best = (float("inf"), -1, copy.deepcopy(module.state_dict()), float("inf"))
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    epoch = 0
    progress = EpochProgress(spec.max_epochs)
    try:
        for epoch in range(1, spec.max_epochs + 1):
            module.train()
            train_loss = train_epoch(forward, train, loss_fn, optimizer, spec.batch_size,
                                     rng.permutation(len(train)), precision=spec.precision,
                                     scheduler=scheduler, grad_clip=spec.grad_clip)
            if spec.bn_reestimate:  # selection and evaluation see the same (exact) statistics
                reestimate_batchnorm(module, train, spec.batch_size)
            if has_valid:
                module.eval()
                valid_loss = mean_loss(forward, valid, valid_loss_fn, 256, spec.precision)
            # the one host read of the epoch
            losses = torch.stack([train_loss, valid_loss]) if has_valid else train_loss[None]
            values = losses.tolist()
            train_value = values[0]
            valid_value = values[1] if has_valid else float("nan")
            record = {"epoch": epoch, "train_loss": train_value, "valid_loss": valid_value}
            valid_auc = None
            if has_valid and select_on == "roc_auc":
                valid_auc = selection.validation_roc_auc(forward, valid, 256, spec.precision)
                record["valid_roc_auc"] = valid_auc
            history.append(record)
            logger.debug("epoch %d train_loss %.4f valid_loss %.4f", epoch, train_value,
                         valid_value)
            score = (selection.criterion(select_on, valid_value, valid_auc)
                     if has_valid else float("nan"))
            if not has_valid or score < best[0]:
                best = (score, epoch, copy.deepcopy(module.state_dict()), valid_value)
            progress.update(epoch, train_value, valid_value, best[1])
            if has_valid and spec.patience is not None and epoch - best[1] >= spec.patience:
                break
    finally:
        progress.close()
    module.load_state_dict(best[2])
    budget = {**spec.budget(), "epochs_run": epoch, "best_epoch": best[1],
              "steps_per_epoch": steps_per_epoch,
              "selection": selection.describe(select_on, has_valid),
              "lr_groups": sorted({round(g["lr_scale"], 6) for g in groups})}
    return TrainReport(best_epoch=best[1], epochs_run=epoch, best_valid_loss=best[3],
                       history=history, seconds=time.perf_counter() - t0, budget=budget)
