"""One optimiser per fold over a stack of folds' parameters.

Adam and AdamW are elementwise, so one update of the stacked tensors is one update per fold,
provided every fold in it has the same step count, learning rates and betas. Folds differ
there when their schedules differ (different steps per epoch or epoch budgets, as in the
refit on training + validation subjects) or when some of them take no step (a fold that has
stopped, or whose batch is elsewhere): :class:`StackedOptimizer` groups the folds of a step
by their hyperparameters and updates each group with :func:`torch.optim.adam.adam` (the
function behind ``torch.optim.Adam``/``AdamW``), on the whole stacked tensors when the group
is every fold, else on each fold's slices. Each fold's learning rates come from its own
scheduler (:func:`eegbench.training.optim.make_scheduler`, the sequential path's), stepped
on a copy of its parameter groups; gradient-norm clipping is computed per fold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.optim.adam import adam

from eegbench.training.fold_parallel.stack import FoldStack
from eegbench.training.optim import make_optimizer, make_scheduler


class StackedOptimizer:
    """Per-fold Adam/AdamW (``spec.optimizer``) with per-fold schedules and clipping.

    Parameters
    ----------
    stack : FoldStack
        The stacked parameters.
    groups : list of dict
        Parameter groups of one fold's network (:func:`eegbench.training.optim.param_groups`),
        with the parameters given by name (``"names"``) instead of ``"params"``.
    specs : sequence of TrainerSpec
        Each fold's settings (optimiser, lr, schedule, budget, ``grad_clip``).
    steps_per_epoch : sequence of int
        Each fold's optimiser steps per epoch (for its schedule).
    """

    def __init__(self, stack: FoldStack, groups: list[dict[str, Any]], specs: Sequence[Any],
                 steps_per_epoch: Sequence[int]) -> None:
        self.stack = stack
        self.group_names = [list(g["names"]) for g in groups]
        self.grad_clip = [s.grad_clip for s in specs]
        self.clip_order = [n for names in self.group_names for n in names]
        with torch.no_grad():
            self.exp_avg = {n: torch.zeros_like(stack.params[n]) for n in self.clip_order}
            self.exp_avg_sq = {n: torch.zeros_like(stack.params[n]) for n in self.clip_order}
        self.steps = [0] * stack.n_folds
        with torch.no_grad():  # per-fold clipping limits, on the device once
            self._limit = torch.tensor([float(c or 0.0) for c in self.grad_clip],
                                       device=stack.device)
            self._clipped = torch.tensor([bool(c) for c in self.grad_clip], device=stack.device)
        # each fold's own optimiser over placeholders: its scheduler sets lr (and betas)
        self.shadows, self.schedulers = [], []
        for spec, n_steps in zip(specs, steps_per_epoch, strict=True):
            shadow = make_optimizer([{"params": [torch.zeros(1)], "lr": g["lr"],
                                      "weight_decay": g["weight_decay"], "lr_scale": 1.0}
                                     for g in groups], spec)
            self.shadows.append(shadow)
            self.schedulers.append(make_scheduler(shadow, spec, n_steps))
            shadow._opt_called = True  # stepped in the stack, not through shadow.step()
        self.decoupled = [bool(s.param_groups[0].get("decoupled_weight_decay", False))
                          for s in self.shadows]
        self.foreach = stack.device.type == "cuda"

    def _hyper(self, fold: int) -> tuple:
        return (self.steps[fold], self.decoupled[fold], tuple(
            (float(g["lr"]), *map(float, g["betas"]), float(g["weight_decay"]),
             float(g["eps"])) for g in self.shadows[fold].param_groups))

    @torch.no_grad()
    def clip(self, folds: Sequence[int]) -> None:
        """Clip each fold's global gradient norm to its ``grad_clip`` (``clip_grad_norm_``)."""
        if not any(self.grad_clip[f] for f in folds):
            return
        grads = [self.stack.params[n].grad for n in self.clip_order
                 if self.stack.params[n].grad is not None]
        if not grads:
            return
        n_folds = self.stack.n_folds
        norms = torch.stack([torch.linalg.vector_norm(g.reshape(n_folds, -1), 2, dim=1)
                             for g in grads])
        total = torch.linalg.vector_norm(norms, 2, dim=0)
        # clip_grad_norm_: max_norm / (total + 1e-6), which torch computes as reciprocal * max
        coef = torch.clamp((total + 1e-6).reciprocal() * self._limit.to(total.dtype), max=1.0)
        stepping = torch.zeros(n_folds, dtype=torch.bool, device=coef.device)
        stepping[self.stack.index(folds)] = True
        coef = torch.where(stepping & self._clipped, coef, torch.ones_like(coef))
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.dim() - 1))).to(g.dtype))

    @torch.no_grad()
    def step(self, folds: Sequence[int]) -> None:
        """Update ``folds`` (their gradients are in the stack), then step their schedules."""
        self.clip(folds)
        by_hyper: dict[tuple, list[int]] = {}
        for f in folds:
            by_hyper.setdefault(self._hyper(f), []).append(f)
        for hyper, members in by_hyper.items():
            step, decoupled, per_group = hyper
            whole = self.stack.all_folds(members)
            for names, (lr, beta1, beta2, wd, eps) in zip(self.group_names, per_group,
                                                           strict=True):
                names = [n for n in names if self.stack.params[n].grad is not None]
                if not names:
                    continue
                params, grads, avgs, sqs = [], [], [], []
                for n in names:
                    p = self.stack.params[n]
                    tensors = (p, p.grad, self.exp_avg[n], self.exp_avg_sq[n])
                    if whole:
                        parts = [tensors]
                    else:
                        parts = [tuple(t[f] for t in tensors) for f in members]
                    for tp, tg, ta, ts in parts:
                        params.append(tp)
                        grads.append(tg)
                        avgs.append(ta)
                        sqs.append(ts)
                adam(params, grads, avgs, sqs, [],
                     [torch.tensor(float(step)) for _ in params], foreach=self.foreach,
                     capturable=False, differentiable=False, fused=None, grad_scale=None,
                     found_inf=None, has_complex=False, decoupled_weight_decay=decoupled,
                     amsgrad=False, beta1=beta1, beta2=beta2, lr=lr, weight_decay=wd,
                     eps=eps, maximize=False)
        for f in folds:
            self.steps[f] += 1
            if self.schedulers[f] is not None:
                self.schedulers[f].step()

    def lr_scales(self) -> list[float]:
        """Return the groups' lr relative to the first fold's base lr (for the record)."""
        return [float(g["initial_lr"] if "initial_lr" in g else g["lr"])
                for g in self.shadows[0].param_groups]
