"""Device-resident training: a fold's windows on the device, batches indexed there.

:class:`ResidentWindows` moves the windows of a fit to the training device once (a float32
tensor; on the CPU the array in memory, shared rather than copied). Each epoch's shuffled
order is uploaded once and every batch is a slice of it, so a step needs no host-to-device
copy, and :func:`train_epoch` / :func:`mean_loss` accumulate the losses on the device: the
host reads them once per epoch (the only synchronisation), for early stopping.

The batches are those of the streaming loop they replace
(:func:`eegbench.training.loop.train_one_epoch`:
the shuffled order cut into consecutive batches, each batch's indices sorted), and the losses
are summed in float64 as the streaming loop summed Python floats, so on the CPU a fit gives
bit-identical weights and losses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

#: Allowed values of ``trainer.precision``: float32 throughout, or bf16 autocast.
PRECISIONS = ("fp32", "bf16")


def check_precision(value: str) -> str:
    """Return ``value`` if it is a valid ``trainer.precision``; raise a clear error if not."""
    if value not in PRECISIONS:
        raise ValueError(f"Invalid value for the 'trainer.precision' parameter. Allowed values "
                         f"are {list(PRECISIONS)}, but got {value!r}.")
    return value


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Return the autocast context for ``precision`` (bf16) or a no-op context (fp32)."""
    if check_precision(precision) == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def accumulator_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device has it (loss sums as exact as the host's Python floats)."""
    return torch.float32 if device.type == "mps" else torch.float64


def batch_bounds(n: int, batch_size: int, min_batch_size: int = 1) -> list[tuple[int, int]]:
    """Return the (start, stop) of each batch of ``n`` samples kept for a step.

    Batches shorter than ``min_batch_size`` are left out (BatchNorm cannot train on one
    sample), as the streaming loop skips them.
    """
    return [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)
            if min(s + batch_size, n) - s >= min_batch_size]


def sorted_batches_order(order: np.ndarray, batch_size: int) -> np.ndarray:
    """Return ``order`` with the indices of each consecutive batch sorted (memmap-friendly)."""
    out = np.array(order, dtype=np.int64, copy=True)
    for start in range(0, len(out), batch_size):
        out[start:start + batch_size].sort()
    return out


class ResidentWindows:
    """Windows (and labels) held on the training device for a whole fit.

    Parameters
    ----------
    X : array-like, shape (n_windows, n_channels, n_times)
        Windows; converted to float32 once (no copy when already a float32 array on the CPU).
    y : array-like of int or None
        Labels.
    device : torch.device
        Where the windows live.
    """

    def __init__(self, X: Any, y: Any, device: torch.device) -> None:
        if isinstance(X, torch.Tensor):
            self.X = X.to(device=device, dtype=torch.float32)
        else:
            array = np.ascontiguousarray(X, dtype=np.float32)
            if not array.flags.writeable:  # a read-only memmap: torch wants its own copy
                array = array.copy()
            self.X = torch.as_tensor(array).to(device)
        self.y = None if y is None else torch.as_tensor(
            np.array(y, dtype=np.int64)).to(device)  # labels are small: always a copy
        self.device = device

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def batches(self, batch_size: int, order: np.ndarray | None = None,
                min_batch_size: int = 1) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Yield (X, y) batches in ``order`` (default: 0..n-1), indices sorted per batch.

        The order is uploaded once; each batch is an index into the resident tensors.
        """
        if order is None:
            n, index = len(self), None
        else:
            n = len(order)
            index = torch.from_numpy(sorted_batches_order(order, batch_size)).to(self.device)
        for start, stop in batch_bounds(n, batch_size, min_batch_size):
            if index is None:
                xb = self.X[start:stop]
                yb = None if self.y is None else self.y[start:stop]
            else:
                idx = index[start:stop]
                xb = self.X[idx]
                yb = None if self.y is None else self.y[idx]
            yield xb, yb


def train_epoch(forward: Callable[[torch.Tensor], torch.Tensor], data: ResidentWindows,
                loss_fn: nn.Module, optimizer: torch.optim.Optimizer, batch_size: int,
                order: np.ndarray, *, precision: str = "fp32",
                scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
                grad_clip: float | None = None, min_batch_size: int = 2) -> torch.Tensor:
    """Take one optimisation step per batch; return the mean training loss (a device scalar).

    ``forward`` is the module (or its compiled version); the caller sets train/eval mode.
    Batches shorter than ``min_batch_size`` are skipped; ``scheduler`` steps after every
    optimiser step; ``grad_clip`` clips the global gradient norm first. Nothing is read back
    to the host.
    """
    device = data.device
    total = torch.zeros((), dtype=accumulator_dtype(device), device=device)
    n_seen = 0
    params = [p for g in optimizer.param_groups for p in g["params"]]
    for xb, yb in data.batches(batch_size, order, min_batch_size):
        optimizer.zero_grad(set_to_none=True)
        with autocast(device, precision):
            loss = loss_fn(forward(xb), yb)
        loss.backward()
        if grad_clip:
            torch.nn.utils.clip_grad_norm_(params, float(grad_clip))
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += loss.detach().to(total.dtype) * len(yb)
        n_seen += len(yb)
    return total / max(n_seen, 1)


@torch.no_grad()
def mean_loss(forward: Callable[[torch.Tensor], torch.Tensor], data: ResidentWindows,
              loss_fn: nn.Module, batch_size: int = 256, precision: str = "fp32"
              ) -> torch.Tensor:
    """Return the mean of ``loss_fn`` over ``data`` in batches (a device scalar, no host read)."""
    device = data.device
    total = torch.zeros((), dtype=accumulator_dtype(device), device=device)
    for xb, yb in data.batches(batch_size):
        with autocast(device, precision):
            loss = loss_fn(forward(xb), yb)
        total += loss.to(total.dtype) * len(yb)
    return total / max(len(data), 1)
