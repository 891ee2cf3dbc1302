"""Classification metrics, registered with their direction (higher is better or not).

:data:`METRICS` holds the built-ins below and the :class:`Metric` objects of the
``eegbench.metrics`` entry-point group; every row gets every registered metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn import metrics as skm

from eegbench.registry import Registry


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


#: Every metric by name: the built-ins and the ``eegbench.metrics`` entry points.
METRICS: Registry[Metric] = Registry("metric", group="eegbench.metrics")
for _metric in (
    Metric("balanced_accuracy", lambda y, p, _: float(skm.balanced_accuracy_score(y, p))),
    Metric("cohen_kappa", lambda y, p, _: float(skm.cohen_kappa_score(y, p))),
    Metric("f1_weighted",
           lambda y, p, _: float(skm.f1_score(y, p, average="weighted", zero_division=0))),
    Metric("roc_auc", _roc_auc),
):
    METRICS.register(_metric.name, _metric)


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
    return {name: m.fn(np.asarray(y_true), pred, proba) for name, m in METRICS.load_all().items()}


def stored_probabilities(proba: np.ndarray) -> list[list[float]]:
    """Return class probabilities as a result row stores them: float32, shortest decimals.

    Each value is rounded to float32 and written as the shortest decimal that reads back as
    the same float32 (at most 9 significant digits), so a row stays compact and its metrics
    can be recomputed exactly from what it stores (:func:`score_predictions`).
    """
    proba32 = np.asarray(proba, dtype=np.float32)
    if proba32.ndim != 2:
        raise ValueError(f"proba must be 2-D (n, n_classes); got shape {proba32.shape}.")
    return [[float(v) for v in row] for row in proba32.astype(str)]


def score_predictions(y_true: np.ndarray, proba: np.ndarray
                      ) -> tuple[dict[str, Any], dict[str, float]]:
    """Return a fold's stored predictions and the metrics computed from them.

    The metrics are computed from the stored (float32-rounded) probabilities, not from the
    model's full-precision ones, so anyone can recompute them exactly from the row.

    Returns
    -------
    predictions : dict
        ``y`` (integer labels) and ``proba`` (:func:`stored_probabilities`).
    metrics : dict
        :func:`compute_metrics` of the stored probabilities.
    """
    stored = stored_probabilities(proba)
    labels = [int(v) for v in np.asarray(y_true)]
    return ({"y": labels, "proba": stored},
            compute_metrics(np.asarray(labels), np.asarray(stored, dtype=np.float64)))
