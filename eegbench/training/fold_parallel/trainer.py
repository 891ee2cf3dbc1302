"""Train the folds of a protocol together: :func:`fit_folds_together`.

The same recipe as :func:`eegbench.training.loop.fit_classifier`, fold by fold, with the folds'
networks stacked (:class:`~eegbench.training.fold_parallel.stack.FoldStack`): every fold keeps its
own
seed (initialisation, shuffling, dropout masks), training and validation windows (indices
into one copy of the dataset on the device), class weights, schedule, gradient clipping,
BatchNorm re-estimation and early stopping. A fold that has stopped takes no further step
and is handed to ``on_done`` at once, with its best epoch's weights restored into its own
network, so its result can be stored while the others train on.

At each step the folds whose batch has the same size run as one call (the last, shorter
batch of each fold usually has a size of its own); validation batches are padded to a common
size in fast mode (evaluation-mode outputs do not depend on the other rows) and grouped by
size in exact mode. The losses stay on the device; the host reads them once per epoch.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from eegbench.progress import EpochProgress, current_label
from eegbench.training.fold_parallel.optim import StackedOptimizer
from eegbench.training.fold_parallel.stack import FoldStack, load_fold_state
from eegbench.training.loop import TrainerSpec, TrainReport, count_steps, make_losses
from eegbench.training.optim import param_groups
from eegbench.training.resident import (
    ResidentWindows,
    accumulator_dtype,
    autocast,
    batch_bounds,
    sorted_batches_order,
)

logger = logging.getLogger(__name__)

#: TrainerSpec fields that may differ between the folds of one stack.
PER_FOLD_FIELDS = ("max_epochs",)


@dataclasses.dataclass
class FoldTask:
    """One fold to train: its network, windows (indices into the data), settings and seed."""

    module: nn.Module
    train_index: np.ndarray
    valid_index: np.ndarray
    spec: TrainerSpec
    seed: int


def check_same_recipe(specs: Sequence[TrainerSpec]) -> None:
    """Raise if the folds' settings differ in more than :data:`PER_FOLD_FIELDS`."""
    first = dataclasses.asdict(specs[0])
    for k, spec in enumerate(specs[1:], 1):
        other = dataclasses.asdict(spec)
        differ = sorted(f for f in first if f not in PER_FOLD_FIELDS and first[f] != other[f])
        if differ:
            raise ValueError(f"Folds trained together must share their trainer settings "
                             f"except {list(PER_FOLD_FIELDS)}, but fold {k} differs from fold "
                             f"0 in {differ}.")


def _named_groups(module: nn.Module, spec: TrainerSpec) -> list[dict[str, Any]]:
    names = {id(p): n for n, p in module.named_parameters()}
    return [{**{k: v for k, v in g.items() if k != "params"},
             "names": [names[id(p)] for p in g["params"]]} for g in param_groups(module, spec)]


class _Run:
    """The state of one stacked fit (kept together so each phase is a short method)."""

    def __init__(self, tasks: Sequence[FoldTask], data: ResidentWindows, y: np.ndarray,
                 n_classes: int, exact: bool) -> None:
        self.tasks, self.data, self.exact = list(tasks), data, exact
        self.spec = tasks[0].spec
        self.n = len(tasks)
        self.device = data.device
        self.stack = FoldStack([t.module for t in tasks], self.device, exact,
                               [t.seed for t in tasks])
        self.losses = [make_losses(y[t.train_index], n_classes, t.spec, self.device)
                       for t in tasks]
        self.groups = _named_groups(tasks[0].module, self.spec)
        self.steps_per_epoch = [count_steps(len(t.train_index), self.spec.batch_size)
                                for t in tasks]
        self.optimizer = StackedOptimizer(self.stack, self.groups, [t.spec for t in tasks],
                                          self.steps_per_epoch)
        self.rngs = [np.random.default_rng(t.seed) for t in tasks]
        self.train_index = [torch.as_tensor(np.asarray(t.train_index, dtype=np.int64),
                                            device=self.device) for t in tasks]
        self.valid_index = [torch.as_tensor(np.asarray(t.valid_index, dtype=np.int64),
                                            device=self.device) for t in tasks]
        self.acc = accumulator_dtype(self.device)

    def _loss_sums(self, losses: list[torch.Tensor], folds: Sequence[int],
                   sizes: Sequence[int] | int, totals: torch.Tensor) -> None:
        """Add each fold's loss x batch size to ``totals`` (on the device, as float64)."""
        values = torch.stack(losses).detach().to(self.acc)
        if isinstance(sizes, int):  # one size for the call: no host-to-device copy
            values = values * sizes
        else:
            values = values * torch.tensor([float(s) for s in sizes], dtype=self.acc,
                                            device=self.device)
        totals.index_add_(0, self.stack.index(folds), values)

    def train_epoch(self, active: Sequence[int]) -> torch.Tensor:
        """One epoch for every fold in ``active``; return each fold's mean training loss."""
        bs, data = self.spec.batch_size, self.data
        orders = {}
        for f in active:
            n_f = len(self.tasks[f].train_index)
            local = torch.from_numpy(sorted_batches_order(self.rngs[f].permutation(n_f), bs))
            orders[f] = self.train_index[f][local.to(self.device)]
        bounds = {f: batch_bounds(len(self.tasks[f].train_index), bs, 2) for f in active}
        totals = torch.zeros(self.n, dtype=self.acc, device=self.device)
        seen = np.zeros(self.n)
        self.stack.train(True)
        for step in range(max((len(b) for b in bounds.values()), default=0)):
            by_size: dict[int, list[tuple[int, int]]] = {}
            for f in active:
                if step < len(bounds[f]):
                    start, stop = bounds[f][step]
                    by_size.setdefault(stop - start, []).append((f, start))
            for size, members in by_size.items():
                folds = [f for f, _ in members]
                idx = torch.stack([orders[f][start:start + size] for f, start in members])
                self.stack.zero_grad()
                with autocast(self.device, self.spec.precision):
                    logits = self.stack(data.X[idx], folds)
                    yb = data.y[idx]
                    losses = [self.losses[f][0](logits[i], yb[i]) for i, f in enumerate(folds)]
                torch.stack(losses).sum().backward()
                self.optimizer.step(folds)
                self._loss_sums(losses, folds, size, totals)
                seen[folds] += size
        return totals / torch.as_tensor(np.maximum(seen, 1), dtype=self.acc,
                                        device=self.device)

    @torch.no_grad()
    def reestimate_batchnorm(self, active: Sequence[int]) -> None:
        """Recompute the BatchNorm statistics of ``active`` folds on their training windows."""
        layers = self.stack.batchnorm_layers()
        if not layers:
            return
        momenta = [m.momentum for m in layers]
        self.stack.train(False)
        for m in layers:
            m.momentum = None
            m.train()
        self.stack.reset_batchnorm(layers, active)
        bs = self.spec.batch_size
        bounds = {f: batch_bounds(len(self.tasks[f].train_index), bs, 2) for f in active}
        try:
            for step in range(max((len(b) for b in bounds.values()), default=0)):
                by_size: dict[int, list[tuple[int, int]]] = {}
                for f in active:
                    if step < len(bounds[f]):
                        start, stop = bounds[f][step]
                        by_size.setdefault(stop - start, []).append((f, start))
                for size, members in by_size.items():
                    idx = torch.stack([self.train_index[f][start:start + size]
                                       for f, start in members])
                    self.stack(self.data.X[idx], [f for f, _ in members])
        finally:
            for m, momentum in zip(layers, momenta, strict=True):
                m.momentum = momentum
            self.stack.train(True)

    @torch.no_grad()
    def valid_losses(self, folds: Sequence[int], batch_size: int = 256) -> torch.Tensor:
        """Return each fold's mean validation loss (batches of ``batch_size`` as sequential)."""
        totals = torch.zeros(self.n, dtype=self.acc, device=self.device)
        counts = np.ones(self.n)
        if not folds:
            return totals
        self.stack.train(False)
        bounds = {f: batch_bounds(len(self.tasks[f].valid_index), batch_size) for f in folds}
        for k in range(max(len(b) for b in bounds.values())):
            members = [(f, *bounds[f][k]) for f in folds if k < len(bounds[f])]
            if self.exact:  # no padding: identical batch shapes to the sequential path
                by_size: dict[int, list[tuple[int, int, int]]] = {}
                for m in members:
                    by_size.setdefault(m[2] - m[1], []).append(m)
                calls = list(by_size.values())
            else:
                calls = [members]
            for call in calls:
                width = max(stop - start for _, start, stop in call)
                rows = []
                for f, start, stop in call:
                    row = self.valid_index[f][start:stop]
                    if len(row) < width:  # pad with the last window; those rows are ignored
                        row = torch.cat([row, row[-1:].expand(width - len(row))])
                    rows.append(row)
                idx = torch.stack(rows)
                fids = [f for f, _, _ in call]
                with autocast(self.device, self.spec.precision):
                    logits = self.stack(self.data.X[idx], fids)
                    yb = self.data.y[idx]
                    losses = [self.losses[f][1](logits[i, :stop - start], yb[i, :stop - start])
                              for i, (f, start, stop) in enumerate(call)]
                self._loss_sums(losses, fids, [stop - start for _, start, stop in call], totals)
        for f in folds:
            counts[f] = max(len(self.tasks[f].valid_index), 1)
        self.stack.train(True)
        return totals / torch.as_tensor(counts, dtype=self.acc, device=self.device)


def fit_folds_together(tasks: Sequence[FoldTask], data: ResidentWindows, y: np.ndarray,
                       n_classes: int, exact: bool = False,
                       on_done: Callable[[int, TrainReport], None] | None = None
                       ) -> list[TrainReport]:
    """Train every fold of ``tasks`` together, as :func:`~eegbench.training.loop.fit_classifier`.

    Parameters
    ----------
    tasks : sequence of FoldTask
        The folds; their settings may differ only in :data:`PER_FOLD_FIELDS`.
    data : ResidentWindows
        All windows the folds index into (labels included), on the training device.
    y : ndarray
        The same labels on the host (class weights).
    n_classes : int
        Number of classes.
    exact : bool
        Per-fold convolutions and unpadded validation batches: on the CPU with one
        thread, each fold's weights, losses and selected epoch are bit-identical to
        ``fit_classifier``'s.
    on_done : callable, optional
        ``on_done(k, report)`` as soon as fold ``k`` is final (its network holds its best
        weights).

    Returns
    -------
    list of TrainReport
        One per fold, in the order of ``tasks``.
    """
    check_same_recipe([t.spec for t in tasks])
    spec = tasks[0].spec
    if spec.num_threads:
        torch.set_num_threads(spec.num_threads)
    for t in tasks:
        t.module.to(data.device)
    run = _Run(tasks, data, y, n_classes, exact)
    n = run.n
    best = run.stack.snapshot()
    best_loss, best_epoch = [float("inf")] * n, [-1] * n
    history: list[list[dict[str, float]]] = [[] for _ in range(n)]
    reports: list[TrainReport | None] = [None] * n
    epochs_run = [0] * n
    has_valid = [len(t.valid_index) > 0 for t in tasks]
    max_epochs = [t.spec.max_epochs for t in tasks]
    t0 = time.perf_counter()
    label = current_label() or "training"
    progress = EpochProgress(max(max_epochs), what=f"{label}: {n} folds together")

    def finish(f: int) -> None:
        load_fold_state(tasks[f].module, run.stack.fold_state(f, best))
        budget = {**tasks[f].spec.budget(), "epochs_run": epochs_run[f],
                  "best_epoch": best_epoch[f], "steps_per_epoch": run.steps_per_epoch[f],
                  "selection": "best validation loss" if has_valid[f]
                  else "last epoch (no validation windows)",
                  "lr_groups": sorted({round(g["lr_scale"], 6) for g in run.groups})}
        reports[f] = TrainReport(best_epoch=best_epoch[f], epochs_run=epochs_run[f],
                                 best_valid_loss=best_loss[f], history=history[f],
                                 seconds=time.perf_counter() - t0, budget=budget)
        if on_done is not None:
            on_done(f, reports[f])

    try:
        for epoch in range(1, max(max_epochs) + 1):
            active = [f for f in range(n) if reports[f] is None]
            if not active:
                break
            train_means = run.train_epoch(active)
            if spec.bn_reestimate:  # selection and evaluation see the same statistics
                run.reestimate_batchnorm(active)
            valid_means = run.valid_losses([f for f in active if has_valid[f]])
            train_values, valid_values = torch.stack([train_means, valid_means]).tolist()
            improved = []
            for f in active:
                valid = valid_values[f] if has_valid[f] else float("nan")
                history[f].append({"epoch": epoch, "train_loss": train_values[f],
                                   "valid_loss": valid})
                epochs_run[f] = epoch
                if not has_valid[f] or valid < best_loss[f]:
                    best_loss[f], best_epoch[f] = valid, epoch
                    improved.append(f)
            if improved:
                run.stack.update_snapshot(best, improved)
            progress.update(epoch, float(np.mean([train_values[f] for f in active])),
                            float(np.nanmean([valid_values[f] if has_valid[f] else np.nan
                                              for f in active])) if any(
                                has_valid[f] for f in active) else float("nan"),
                            active=f"{len(active)}/{n}")
            for f in active:
                patience_over = (has_valid[f] and spec.patience is not None
                                 and epoch - best_epoch[f] >= spec.patience)
                if patience_over or epoch >= max_epochs[f]:
                    finish(f)
    finally:
        progress.close()
    for f in range(n):
        if reports[f] is None:  # a budget of zero epochs
            finish(f)
    return reports  # type: ignore[return-value]
