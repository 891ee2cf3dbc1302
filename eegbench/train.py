"""The training loop for torch models: seeded, class-weighted, early stopping on validation.

Validation data come from the protocol's validation *subjects* (never the test subject).
"""

from __future__ import annotations

import copy
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainerSpec:
    """Optimisation settings (Hydra group ``trainer``)."""

    max_epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 6
    class_weighting: str = "balanced"  # "balanced" or "none"
    device: str = "auto"  # "auto", "cpu", "cuda"
    num_threads: int | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> TrainerSpec:
        """Build from a mapping, ignoring unknown keys."""
        allowed = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in dict(cfg).items() if k in allowed})


@dataclass
class TrainReport:
    """What happened during training."""

    best_epoch: int
    epochs_run: int
    best_valid_loss: float
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


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
                    device: torch.device, min_batch_size: int = 2) -> float:
    """Take one optimisation step per batch of ``order``; return the mean training loss.

    Batches smaller than ``min_batch_size`` are skipped (BatchNorm cannot train on a single
    sample). The caller sets the module's train/eval mode.
    """
    total, n_seen = 0.0, 0
    for xb, yb in iterate_batches(X, y, batch_size, order):
        if len(yb) < min_batch_size:
            continue
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(module(xb.to(device)), yb.to(device))
        loss.backward()
        optimizer.step()
        total += loss.item() * len(yb)
        n_seen += len(yb)
    return total / max(n_seen, 1)


def _mean_loss(module, X, y, loss_fn, batch_size, device) -> float:
    module.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for xb, yb in iterate_batches(X, y, batch_size, np.arange(len(X))):
            total += float(loss_fn(module(xb.to(device)), yb.to(device))) * len(yb)
            n += len(yb)
    return total / max(n, 1)


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
    """Train ``module`` with AdamW and early stopping on the validation loss.

    The weights of the best validation epoch are restored at the end.

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
    weight = class_weights(y_train, n_classes) if spec.class_weighting == "balanced" else None
    loss_fn = nn.CrossEntropyLoss(weight=None if weight is None else weight.to(device))
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)
    rng = np.random.default_rng(seed)
    best = (float("inf"), -1, copy.deepcopy(module.state_dict()))
    history: list[dict[str, float]] = []
    t0 = time.perf_counter()
    epoch = 0
    # A progress bar on interactive terminals only (tqdm disables itself otherwise).
    progress = tqdm(range(1, spec.max_epochs + 1), desc="epochs", leave=False, disable=None)
    for epoch in progress:
        module.train()
        train_loss = train_one_epoch(module, X_train, y_train, loss_fn, optimizer,
                                     spec.batch_size, rng.permutation(len(X_train)), device)
        valid_loss = _mean_loss(module, X_valid, y_valid, loss_fn, 256, device)
        history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss})
        logger.debug("epoch %d train_loss %.4f valid_loss %.4f", epoch,
                     history[-1]["train_loss"], valid_loss)
        if valid_loss < best[0]:
            best = (valid_loss, epoch, copy.deepcopy(module.state_dict()))
        progress.set_postfix(train=f"{history[-1]['train_loss']:.3f}", valid=f"{valid_loss:.3f}",
                             best=best[1])
        if epoch - best[1] >= spec.patience:
            break
    progress.close()
    module.load_state_dict(best[2])
    return TrainReport(best_epoch=best[1], epochs_run=epoch, best_valid_loss=best[0],
                       history=history, seconds=time.perf_counter() - t0)
