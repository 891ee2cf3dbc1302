"""Metrics, registered with their task kind and direction (higher is better or not).

:data:`METRICS` holds the built-ins below and the :class:`Metric` objects of the
``eegbench.metrics`` entry-point group. A metric is a classification metric (computed from
labels, predicted labels and class probabilities) or a regression metric (computed from
numeric targets and numeric predictions); every row gets every registered metric of its
task's kind. :func:`higher_is_better` is what everything that ranks, picks a best or selects
an epoch asks.

Regression metrics of a fold (over its test windows): ``mae``, ``rmse``, ``r2``
(:func:`sklearn.metrics.r2_score`; NaN when the targets are constant, as for one test subject
with a subject-level target), ``pearson_r`` (:func:`scipy.stats.pearsonr`; NaN when targets or
predictions are constant) and ``abs_error_of_mean``: ``|mean(pred) - mean(y)|``, for a
leave-one-subject-out fold of a subject-level target the absolute error of the subject's mean
prediction (the per-subject score of regression tables).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from sklearn import metrics as skm

from eegbench.registry import Registry

#: The kinds of task a metric scores.
TASK_KINDS = ("classification", "regression")


@dataclass(frozen=True)
class Metric:
    """A named metric with its direction and the kind of task it scores.

    A classification metric's ``fn(y, pred, proba)`` takes integer labels, predicted labels
    and class probabilities; a regression metric's ``fn(y, pred, None)`` takes numeric targets
    and numeric predictions.
    """

    name: str
    fn: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float]
    higher_is_better: bool = True
    kind: str = "classification"

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"Invalid value for the 'kind' parameter of metric {self.name!r}. "
                             f"Allowed values are {list(TASK_KINDS)}, but got {self.kind!r}.")


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


def _r2(y: np.ndarray, pred: np.ndarray, _: Any = None) -> float:
    if len(y) < 2 or np.all(y == y[0]):
        return float("nan")  # undefined for constant targets (one subject, one target)
    return float(skm.r2_score(y, pred))


def _pearson_r(y: np.ndarray, pred: np.ndarray, _: Any = None) -> float:
    if len(y) < 2 or np.all(y == y[0]) or np.all(pred == pred[0]):
        return float("nan")  # undefined when either side is constant
    return float(stats.pearsonr(y, pred).statistic)


def _abs_error_of_mean(y: np.ndarray, pred: np.ndarray, _: Any = None) -> float:
    return float(abs(np.mean(pred) - np.mean(y)))


#: Every metric by name: the built-ins and the ``eegbench.metrics`` entry points.
METRICS: Registry[Metric] = Registry("metric", group="eegbench.metrics")
for _metric in (
    Metric("balanced_accuracy", lambda y, p, _: float(skm.balanced_accuracy_score(y, p))),
    Metric("cohen_kappa", lambda y, p, _: float(skm.cohen_kappa_score(y, p))),
    Metric("f1_weighted",
           lambda y, p, _: float(skm.f1_score(y, p, average="weighted", zero_division=0))),
    Metric("roc_auc", _roc_auc),
    Metric("mae", lambda y, p, _: float(skm.mean_absolute_error(y, p)), False, "regression"),
    Metric("rmse", lambda y, p, _: float(np.sqrt(skm.mean_squared_error(y, p))), False,
           "regression"),
    Metric("r2", _r2, True, "regression"),
    Metric("pearson_r", _pearson_r, True, "regression"),
    Metric("abs_error_of_mean", _abs_error_of_mean, False, "regression"),
):
    METRICS.register(_metric.name, _metric)


#: The metric a run log reports for each kind of task (the tables use the recipe's primary).
LOGGED_METRIC = {"classification": "balanced_accuracy", "regression": "abs_error_of_mean"}


def metrics_of_kind(kind: str) -> dict[str, Metric]:
    """Every registered metric that scores tasks of ``kind`` (classification or regression)."""
    if kind not in TASK_KINDS:
        raise ValueError(f"Invalid value for the 'kind' parameter. Allowed values are "
                         f"{list(TASK_KINDS)}, but got {kind!r}.")
    return {name: m for name, m in METRICS.load_all().items() if m.kind == kind}


def higher_is_better(name: str) -> bool:
    """Whether a larger value of metric ``name`` is better (False for errors: MAE, RMSE).

    Raises
    ------
    RegistryError
        If ``name`` is not a registered metric (the message lists close names).
    """
    return bool(METRICS.get(name).higher_is_better)


def metric_kind(name: str) -> str:
    """The kind of task metric ``name`` scores: ``classification`` or ``regression``."""
    return str(METRICS.get(name).kind)


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
    return {name: m.fn(np.asarray(y_true), pred, proba)
            for name, m in metrics_of_kind("classification").items()}


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


# -- regression --------------------------------------------------------------------------


def compute_regression_metrics(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Compute every registered regression metric of numeric predictions.

    Parameters
    ----------
    y_true : ndarray, shape (n,)
        Numeric targets.
    pred : ndarray, shape (n,)
        Numeric predictions.

    Returns
    -------
    dict
        Metric name -> value (NaN where undefined, e.g. R2 of constant targets).

    Raises
    ------
    ValueError
        If the shapes differ, the arrays are empty or hold non-finite values.
    """
    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(pred, dtype=np.float64)
    if y.ndim != 1 or p.shape != y.shape or not len(y):
        raise ValueError(f"targets and predictions must be 1-D of the same non-zero length; "
                         f"got shapes {y.shape} and {p.shape}.")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise ValueError("targets and predictions must be finite numbers (found NaN or inf).")
    return {name: m.fn(y, p, None) for name, m in metrics_of_kind("regression").items()}


def stored_values(values: np.ndarray) -> list[float]:
    """Return numbers as a result row stores them: float32, shortest decimals.

    Each value is the shortest decimal that reads back as the same float32 (as
    :func:`stored_probabilities`).
    """
    values32 = np.asarray(values, dtype=np.float32)
    if values32.ndim != 1:
        raise ValueError(f"values must be 1-D; got shape {values32.shape}.")
    return [float(v) for v in values32.astype(str)]


def score_regression(y_true: np.ndarray, pred: np.ndarray, train_mean: float
                     ) -> tuple[dict[str, Any], dict[str, float]]:
    """Return a regression fold's stored predictions and the metrics computed from them.

    The targets are stored as float64 (they are data, not model output), the predictions as
    float32 (:func:`stored_values`); the metrics are computed from exactly the stored values,
    so anyone can recompute them from the row. ``train_mean`` is the mean target of the
    windows the model was trained on: the prediction of the training-mean reference
    (``mean_regressor``), which the tables test each model against; it is stored as float32
    too, so the reference's errors computed from it equal those of its own rows.

    Returns
    -------
    predictions : dict
        ``y`` (targets), ``pred`` (float32 predictions) and ``train_mean``.
    metrics : dict
        :func:`compute_regression_metrics` of the stored values.
    """
    targets = [float(v) for v in np.asarray(y_true, dtype=np.float64)]
    stored = stored_values(pred)
    if not np.isfinite(train_mean):
        raise ValueError(f"train_mean must be a finite number, got {train_mean!r}.")
    # float32 like the predictions: the reference's own rows then have exactly its errors
    mean32 = stored_values(np.array([train_mean]))[0]
    return ({"y": targets, "pred": stored, "train_mean": mean32},
            compute_regression_metrics(np.asarray(targets), np.asarray(stored)))
