"""BatchNorm running statistics that are valid at evaluation time.

braindecode's EEGNet uses a BatchNorm momentum of 0.01, so after the few hundred optimisation
steps of a fold the running mean and variance used at evaluation still carry much of their
initial values. :func:`reestimate_batchnorm` recomputes them exactly (cumulative average,
``momentum=None``) over the training windows with the trained weights, the standard fix
(e.g. the "precise BN" of Wu & Johnson 2021).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from eegbench.training.resident import ResidentWindows

_BN = nn.modules.batchnorm._BatchNorm


@torch.no_grad()
def reestimate_batchnorm(module: nn.Module, X: Any, batch_size: int = 64) -> int:
    """Recompute every BatchNorm layer's running statistics on ``X``; return their number.

    Only the BatchNorm layers run in training mode (dropout stays off); weights are unchanged.
    Frozen BatchNorm layers (all parameters without gradient, e.g. a probed encoder) are left
    alone. ``X`` is an array of windows or :class:`~eegbench.training.resident.ResidentWindows` (the
    windows already on the module's device); batches of one window are skipped.
    """
    layers = [m for m in module.modules() if isinstance(m, _BN) and m.track_running_stats
              and any(p.requires_grad for p in m.parameters())]
    if not layers or len(X) == 0:
        return 0
    device = next(module.parameters()).device
    data = X if isinstance(X, ResidentWindows) else ResidentWindows(X, None, device)
    was_training = module.training
    momenta = [m.momentum for m in layers]
    module.eval()
    for m in layers:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all batches
        m.train()
    try:
        for xb, _ in data.batches(batch_size, min_batch_size=2):
            module(xb)
    finally:
        for m, momentum in zip(layers, momenta, strict=True):
            m.momentum = momentum
        module.train(was_training)
    return len(layers)
