"""Optimiser, parameter groups (head lr, backbone lr, layer-wise decay) and lr schedules.

The recipes of the original foundation-model repositories differ in exactly these knobs:
CBraMod trains the head at 5x the backbone lr with a per-step cosine schedule, LaBraM uses
layer-wise lr decay with linear warm-up and cosine decay (BEiT style), EEGPT a one-cycle
schedule. :func:`param_groups` and :func:`make_scheduler` express all of them.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn


def _head_and_body(module: nn.Module) -> tuple[list[tuple[str, nn.Parameter]],
                                               list[tuple[str, nn.Parameter]]]:
    head = getattr(module, "head", None)
    head_ids = {id(p) for p in head.parameters()} if isinstance(head, nn.Module) else set()
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    return ([(n, p) for n, p in named if id(p) in head_ids],
            [(n, p) for n, p in named if id(p) not in head_ids])


def _layer_ids(module: nn.Module) -> tuple[dict[int, int], int]:
    """Map parameter id -> depth (0: embeddings, i+1: block i); return (map, n_blocks)."""
    encoder = getattr(module, "encoder", None)
    blocks_fn = getattr(encoder, "blocks", None)
    if not callable(blocks_fn):
        return {}, 0
    blocks = blocks_fn()
    ids = {}
    for depth, block in enumerate(blocks, 1):
        for p in block.parameters():
            ids[id(p)] = depth
    return ids, len(blocks)


def param_groups(module: nn.Module, spec: Any) -> list[dict[str, Any]]:
    """Return optimiser parameter groups for ``module`` under the trainer ``spec``.

    * the head (``module.head``) gets ``spec.head_lr`` (default ``spec.lr``);
    * with ``spec.layer_decay`` (LaBraM / BEiT), encoder block ``i`` of ``L`` gets
      ``lr * layer_decay ** (L - i)`` and the embeddings ``lr * layer_decay ** (L + 1)``;
    * with ``spec.no_weight_decay_1d``, biases and norm weights (1-D tensors) get no weight
      decay (timm's ``param_groups_weight_decay``).

    Each group carries ``lr_scale`` (its lr relative to ``spec.lr``) for the record.
    """
    head, body = _head_and_body(module)
    layer_ids, n_blocks = _layer_ids(module) if spec.layer_decay else ({}, 0)
    groups: dict[tuple[float, float], dict[str, Any]] = {}

    def add(p: nn.Parameter, lr: float) -> None:
        wd = 0.0 if (spec.no_weight_decay_1d and p.ndim <= 1) else float(spec.weight_decay)
        key = (lr, wd)
        if key not in groups:
            groups[key] = {"params": [], "lr": lr, "weight_decay": wd,
                           "lr_scale": lr / float(spec.lr)}
        groups[key]["params"].append(p)

    for _, p in body:
        lr = float(spec.lr)
        if spec.layer_decay:
            depth = layer_ids.get(id(p), 0)
            lr *= float(spec.layer_decay) ** (n_blocks + 1 - depth)
        add(p, lr)
    head_lr = float(spec.head_lr) if spec.head_lr else float(spec.lr)
    for _, p in head:
        add(p, head_lr)
    return list(groups.values())


def make_optimizer(groups: list[dict[str, Any]], spec: Any) -> torch.optim.Optimizer:
    """Build ``spec.optimizer`` (``adamw`` | ``adam``) over ``groups``."""
    clean = [{k: v for k, v in g.items() if k != "lr_scale"} for g in groups]
    if spec.optimizer == "adamw":
        return torch.optim.AdamW(clean, lr=float(spec.lr))
    if spec.optimizer == "adam":
        return torch.optim.Adam(clean, lr=float(spec.lr))
    raise ValueError(f"Invalid value for the 'trainer.optimizer' parameter. Allowed values "
                     f"are ['adamw', 'adam'], but got {spec.optimizer!r}.")


def make_scheduler(optimizer: torch.optim.Optimizer, spec: Any, steps_per_epoch: int
                   ) -> torch.optim.lr_scheduler.LRScheduler | None:
    """Return a per-step scheduler for ``spec.schedule`` (``None`` for ``constant``).

    ``cosine``: linear warm-up over ``spec.warmup_epochs`` from ``spec.warmup_lr`` to each
    group's lr, then cosine decay to ``spec.min_lr`` at ``spec.max_epochs`` (CBraMod with no
    warm-up; LaBraM with 5). ``onecycle``: :class:`torch.optim.lr_scheduler.OneCycleLR`
    peaking at each group's lr after ``spec.pct_start`` of the run (EEGPT).
    """
    total = max(1, int(spec.max_epochs) * max(1, steps_per_epoch))
    if spec.schedule == "constant":
        return None
    if spec.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=[g["lr"] for g in optimizer.param_groups], total_steps=total,
            pct_start=float(spec.pct_start))
    if spec.schedule != "cosine":
        raise ValueError(f"Invalid value for the 'trainer.schedule' parameter. Allowed values "
                         f"are ['constant', 'cosine', 'onecycle'], but got {spec.schedule!r}.")
    warmup = int(round(float(spec.warmup_epochs) * steps_per_epoch))

    def factor_for(base_lr: float):
        start = min(1.0, float(spec.warmup_lr) / base_lr) if base_lr > 0 else 1.0
        floor = min(1.0, float(spec.min_lr) / base_lr) if base_lr > 0 else 0.0

        def factor(step: int) -> float:
            if step < warmup:
                return start + (1.0 - start) * step / max(1, warmup)
            progress = min(1.0, (step - warmup) / max(1, total - warmup))
            return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))

        return factor

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, [factor_for(g["lr"]) for g in optimizer.param_groups])
