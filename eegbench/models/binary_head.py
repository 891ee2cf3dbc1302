"""The binary one-logit head: one output ``z`` read as the logit of class 1.

CBraMod, BIOT and LaBraM train binary tasks with a single output and ``BCEWithLogitsLoss``
(wjq-learning/CBraMod ``models/model_for_stress.py``: ``nn.Linear(200, 1)``,
``finetune_trainer.py``: ``BCEWithLogitsLoss`` for MentalArithmetic; ycq091044/BIOT
``run_binary_supervised.py``: ``BCE`` on one output; 935963004/LaBraM
``run_class_finetuning.py``: ``nb_classes = 1`` and ``BCEWithLogitsLoss`` for TUAB).
:class:`OneLogitHead` keeps that parametrisation (one output unit, so the same number of
parameters and the same gradients) and returns the logits ``[0, z]``: their softmax is
``[1 - sigmoid(z), sigmoid(z)]`` and the cross-entropy of ``[0, z]`` equals
``BCEWithLogitsLoss(z, y)`` exactly (without label smoothing), so the training loop, the
class weights and the 2-column probabilities the metrics read stay as they are.
"""

from __future__ import annotations

import torch
from torch import nn

#: Values of ``model.params.head.binary``.
BINARY_OUTPUTS = ("two_logits", "one_logit")


class OneLogitHead(nn.Module):
    """Wrap a head with one output; return ``[0, z]`` so that softmax gives ``sigmoid(z)``.

    Parameters
    ----------
    head : nn.Module
        Maps features to one logit, shape (batch, 1).
    """

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return (batch, 2) logits ``[0, z]``."""
        z = self.head(features)
        return torch.cat([torch.zeros_like(z), z], dim=-1)
