"""Classification metrics, registered with their direction (higher is better or not)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm


@dataclass(frozen=True)
class Metric:
    """A named metric computed from labels, predicted labels and class probabilities."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray], float]
    higher_is_better: bool = True


def _roc_auc(y: np.ndarray, pred: np.ndarray, proba: np.ndarray) -> float:
    n_classes = proba.shape[1]
    present = np.unique(y)
    if len(present) < 2:
        return float("nan")  # undefined when the test subject has a single class
    if n_classes == 2:
        return float(skm.roc_auc_score(y, proba[:, 1]))
    if len(present) < n_classes:
        return float("nan")
    return float(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("balanced_accuracy", lambda y, p, _: float(skm.balanced_accuracy_score(y, p))),
        Metric("cohen_kappa", lambda y, p, _: float(skm.cohen_kappa_score(y, p))),
        Metric("f1_weighted",
               lambda y, p, _: float(skm.f1_score(y, p, average="weighted", zero_division=0))),
        Metric("roc_auc", _roc_auc),
    )
}


def compute_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Compute every registered metric.

    Parameters
    ----------
    y_true : ndarray, shape (n,)
        Integer labels.
    proba : ndarray, shape (n, n_classes)
        Class probabilities; the prediction is their argmax.

    Returns
    -------
    dict
        Metric name -> value (NaN where undefined).
    """
    proba = np.asarray(proba)
    if proba.ndim != 2 or len(proba) != len(y_true):
        raise ValueError(f"proba must have shape (n={len(y_true)}, n_classes); got {proba.shape}.")
    pred = proba.argmax(axis=1)
    return {name: m.fn(np.asarray(y_true), pred, proba) for name, m in METRICS.items()}
