"""Epoch selection on the validation subjects: lowest loss, or highest ROC AUC.

``trainer.select_on`` chooses what "best validation epoch" means in
:func:`eegbench.training.loop.fit_classifier`:

- ``loss`` (default): the epoch with the lowest validation cross-entropy (unsmoothed);
- ``roc_auc``: the epoch with the highest ROC AUC of the positive-class probability on the
  validation windows (binary tasks; other tasks fall back to the loss), as the original
  downstream code of CBraMod selects (wjq-learning/CBraMod ``finetune_trainer.py``,
  ``train_for_binaryclass``: the weights are kept when ``roc_auc > roc_auc_best``); BIOT stops
  on it (ycq091044/BIOT ``run_binary_supervised.py``:
  ``EarlyStopping(monitor="val_auroc", patience=5, mode="max")``).

Both are expressed as a *criterion to minimise* (the loss, or minus the AUC), so that the loop
keeps one comparison and one patience counter; ties keep the earlier epoch, as the originals'
strict ``>`` does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from eegbench.training.resident import ResidentWindows, autocast

logger = logging.getLogger(__name__)

#: Allowed values of ``trainer.select_on``.
SELECT_ON = ("loss", "roc_auc")


def check_select_on(value: str) -> str:
    """Return ``value`` if it is one of :data:`SELECT_ON`.

    Raises
    ------
    ValueError
        For any other value.
    """
    if value not in SELECT_ON:
        raise ValueError(f"Invalid value for the 'trainer.select_on' parameter. Allowed values "
                         f"are {list(SELECT_ON)}, but got {value!r}.")
    return value


def effective_select_on(select_on: str, y_valid: np.ndarray, n_classes: int) -> str:
    """Return the selection a fit uses: ``select_on``, or ``loss`` on a non-binary task.

    The ROC AUC is a binary score, so on a task with more than two classes
    ``select_on="roc_auc"`` selects on the loss (logged; the fit's budget records the
    selection used). CBraMod's original code also selects binary tasks on the ROC AUC only.

    Raises
    ------
    ValueError
        With ``select_on="roc_auc"`` on a binary task whose validation windows do not hold
        both classes (the AUC is then undefined).
    """
    if select_on != "roc_auc" or len(y_valid) == 0:
        return select_on
    if n_classes != 2:
        logger.warning("trainer.select_on=roc_auc applies to binary tasks; this task has %d "
                       "classes: selecting on the validation loss.", n_classes)
        return "loss"
    present = sorted(set(np.asarray(y_valid).astype(int).tolist()))
    if present != [0, 1]:
        raise ValueError(f"trainer.select_on=roc_auc needs both classes among the validation "
                         f"windows, but found only class(es) {present}.")
    return select_on


@torch.no_grad()
def positive_scores(forward: Callable[[torch.Tensor], torch.Tensor], data: ResidentWindows,
                    batch_size: int = 256, precision: str = "fp32") -> np.ndarray:
    """Return the softmax probability of class 1 for every window of ``data`` (eval mode)."""
    out = []
    for xb, _ in data.batches(batch_size):
        with autocast(data.device, precision):
            logits = forward(xb)
        out.append(torch.softmax(logits.float(), dim=-1)[:, 1])
    return torch.cat(out).cpu().numpy() if out else np.empty(0)


def validation_roc_auc(forward: Callable[[torch.Tensor], torch.Tensor], data: ResidentWindows,
                       batch_size: int = 256, precision: str = "fp32") -> float:
    """Return the ROC AUC of the positive-class probability on ``data`` (labels 0/1)."""
    y = data.y.cpu().numpy()
    return float(roc_auc_score(y, positive_scores(forward, data, batch_size, precision)))


def criterion(select_on: str, valid_loss: float, valid_auc: float | None) -> float:
    """Return the value the selection minimises: the loss, or minus the ROC AUC."""
    if select_on == "roc_auc":
        if valid_auc is None:
            raise ValueError("select_on=roc_auc but no validation ROC AUC was computed.")
        return -valid_auc
    return valid_loss


def describe(select_on: str, has_valid: bool) -> str:
    """Return the ``selection`` entry of a fit's budget."""
    if not has_valid:
        return "last epoch (no validation windows)"
    return "best validation ROC AUC" if select_on == "roc_auc" else "best validation loss"
