"""Check a result row's metrics against the predictions stored in the same row.

Every row stores its test labels and class probabilities (``predictions``); its metrics are a
function of them, so an edited metric (or edited predictions) is caught by recomputing.

- Rows of schema >= 5 store float32 probabilities and their metrics were computed from exactly
  those values (:func:`eegbench.metrics.score_predictions`): every stored metric must equal the
  recomputed one (to :data:`EXACT_TOLERANCE`, floating-point summation order), and the stored
  ``predicted_class_counts`` must be the argmax counts.
- Rows of schema 4 store probabilities rounded to 4 decimals, while their metrics were computed
  from the unrounded ones. Rounding is monotone, so it keeps every strict order between two
  probabilities and can only turn one into a tie; a tie of the rounded values (equal within
  :data:`TIE_TOLERANCE`, half the 4-decimal step) may have been broken either way. Such a row
  passes when its stored metrics are reachable by breaking every such tie either way: the
  argmax metrics (balanced accuracy, Cohen's kappa, weighted F1) must all be those of one
  assignment of the windows whose top probabilities tie to one of their tied classes (every
  assignment is enumerated, up to :data:`MAX_ASSIGNMENTS`; beyond, only ROC AUC is checked);
  ROC AUC must lie in the range where each tied positive/negative pair contributes 0 to 1
  instead of 1/2 (macro-averaged per class for more than two classes, an outer bound) and,
  for two classes, be a whole number of half pairs.
- Regression rows (``predictions`` with ``y``, ``pred`` and ``train_mean``, schema 5) store
  float32 predictions and their metrics were computed from exactly those values
  (:func:`eegbench.metrics.score_regression`): every stored metric must be a regression metric
  equal to the one recomputed (:func:`eegbench.metrics.compute_regression_metrics`), the
  training mean must be a finite number and the row stores no class counts.
- A row of schema >= 4 without predictions is refused. Rows of schema < 4 (which predate
  stored predictions) and schema-4 layer-probe rows (which copied their network's
  predictions, not the probe's) have nothing to recompute and are not checked.

Recomputation catches an edited metric (or edited predictions that no longer give the stored
metric); predictions forged together with matching metrics are only caught by re-running the
fold (``eegbench submission verify``).

The recomputation uses numpy formulas of the confusion matrix and of the Mann-Whitney statistic;
a row they disagree with is recomputed with scikit-learn (:func:`eegbench.metrics.compute_metrics`)
before it is refused, so a row is refused only when the reference implementation disagrees too.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

import numpy as np

from eegbench.metrics import METRICS, compute_metrics, compute_regression_metrics, metric_kind
from eegbench.results.row import ResultRow, row_key

#: Schema from which every row stores its predictions.
PREDICTIONS_SCHEMA = 4
#: Schema from which stored probabilities are exact float32 values (metrics computed from them).
EXACT_SCHEMA = 5
#: Largest difference accepted between a stored and a recomputed metric (summation order).
EXACT_TOLERANCE = 1e-9
#: Two 4-decimal probabilities closer than this are tied (half the rounding step).
TIE_TOLERANCE = 5e-5
#: Most tie-breaking assignments enumerated for a legacy row's argmax metrics (the shipped
#: rows need at most about a hundred; the bound keeps a crafted row from stalling a read).
MAX_ASSIGNMENTS = 20_000

ARGMAX_METRICS = ("balanced_accuracy", "cohen_kappa", "f1_weighted")


def confusion_metrics(confusion: np.ndarray) -> dict[str, float]:
    """Balanced accuracy, Cohen's kappa and weighted F1 from a confusion matrix.

    ``confusion[i, j]`` counts windows of true class ``i`` predicted as ``j``; the formulas
    are scikit-learn's (classes absent from both truth and prediction add nothing; kappa is
    NaN when undefined; an F1 with a zero denominator is 0).
    """
    c = np.asarray(confusion, dtype=np.float64)
    true_sum, pred_sum, diag = c.sum(axis=1), c.sum(axis=0), np.diag(c)
    present = true_sum > 0
    balanced = float(np.mean(diag[present] / true_sum[present]))
    off = 1.0 - np.eye(len(c))
    expected = np.outer(pred_sum, true_sum) / c.sum()
    denominator = float(np.sum(off * expected))
    kappa = float("nan") if denominator == 0 else float(1 - np.sum(off * c) / denominator)
    both = true_sum + pred_sum
    f1 = np.divide(2 * diag, both, out=np.zeros_like(diag), where=both > 0)
    weighted = float(np.sum(f1 * true_sum) / np.sum(true_sum))
    return {"balanced_accuracy": balanced, "cohen_kappa": kappa, "f1_weighted": weighted}


def _tie_groups(scores: np.ndarray) -> np.ndarray:
    """Group id of each score: consecutive sorted scores within TIE_TOLERANCE share one."""
    order = np.argsort(scores, kind="stable")
    gaps = np.diff(scores[order]) > TIE_TOLERANCE
    groups = np.empty(len(scores), dtype=np.int64)
    groups[order] = np.concatenate([[0], np.cumsum(gaps)])
    return groups


def _binary_auc(positive: np.ndarray, scores: np.ndarray,
                ties: bool = False) -> tuple[float, float]:
    """ROC AUC of ``scores`` for the ``positive`` mask (Mann-Whitney statistic, ties 1/2).

    Returns ``(auc, slack)``: ``slack`` is 0, or with ``ties`` half the share of
    positive/negative pairs whose scores tie within :data:`TIE_TOLERANCE` (each such pair
    could count 0 or 1 instead of 1/2). Without ``ties`` only equal scores tie.
    """
    groups = _tie_groups(scores) if ties else np.unique(scores, return_inverse=True)[1]
    n_groups = int(groups.max()) + 1
    pos = np.bincount(groups[positive], minlength=n_groups).astype(np.float64)
    neg = np.bincount(groups[~positive], minlength=n_groups).astype(np.float64)
    below = np.concatenate([[0.0], np.cumsum(neg)[:-1]])  # negatives scored lower
    pairs = pos.sum() * neg.sum()
    auc = float(np.sum(pos * below + 0.5 * pos * neg) / pairs)
    return auc, (float(0.5 * np.sum(pos * neg) / pairs) if ties else 0.0)


def _auc_range(y: np.ndarray, proba: np.ndarray, ties: bool) -> tuple[float, float]:
    """Range of ROC AUC (eegbench's definition, :func:`eegbench.metrics._roc_auc`)."""
    n_classes = proba.shape[1]
    present = np.unique(y)
    if len(present) < 2 or (n_classes > 2 and len(present) < n_classes):
        return float("nan"), float("nan")
    columns = [1] if n_classes == 2 else range(n_classes)
    bounds = [_binary_auc(y == k, proba[:, k], ties) for k in columns]
    low = float(np.mean([a - s for a, s in bounds]))
    high = float(np.mean([a + s for a, s in bounds]))
    return low, high


def fast_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Every registered metric of ``(y, proba)`` from numpy formulas (no tie handling)."""
    n_classes = proba.shape[1]
    pred = proba.argmax(axis=1)
    confusion = np.bincount(y * n_classes + pred, minlength=n_classes ** 2)
    out = confusion_metrics(confusion.reshape(n_classes, n_classes))
    out["roc_auc"] = _auc_range(y, proba, ties=False)[0]
    return out


def _compositions(size: int, tied: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every way to spread ``size`` windows over the ``tied`` classes (counts per class)."""
    return [tuple(Counter(pick).get(k, 0) for k in tied)
            for pick in itertools.combinations_with_replacement(tied, size)]


def reachable_argmax_metrics(y: np.ndarray, proba: np.ndarray) -> list[dict[str, float]] | None:
    """Balanced accuracy, kappa and weighted F1 for every way of breaking argmax ties.

    A window whose top probabilities tie within :data:`TIE_TOLERANCE` may have been predicted
    as any of its tied classes; every resulting confusion matrix is enumerated (windows of
    the same true class and tied classes are interchangeable). Returns None when there are
    more than :data:`MAX_ASSIGNMENTS` of them.
    """
    n_classes = proba.shape[1]
    top = proba.max(axis=1, keepdims=True)
    tied = proba >= top - TIE_TOLERANCE
    ambiguous = tied.sum(axis=1) > 1
    fixed = np.bincount(y[~ambiguous] * n_classes + proba[~ambiguous].argmax(axis=1),
                        minlength=n_classes ** 2).reshape(n_classes, n_classes)
    groups = Counter((int(label), tuple(int(k) for k in np.flatnonzero(row)))
                     for label, row in zip(y[ambiguous], tied[ambiguous], strict=True))
    n_assignments = math.prod(math.comb(size + len(classes) - 1, len(classes) - 1)
                              for (_, classes), size in groups.items())
    if n_assignments > MAX_ASSIGNMENTS:
        return None
    options = [[(label, classes, counts) for counts in _compositions(size, classes)]
               for (label, classes), size in groups.items()]
    reachable = []
    for choice in itertools.product(*options):
        confusion = fixed.copy()
        for label, classes, counts in choice:
            confusion[label, list(classes)] += counts
        reachable.append(confusion_metrics(confusion))
    return reachable


def legacy_auc_range(y: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    """ROC AUC range when ties of 4-decimal scores are broken either way (NaN if undefined)."""
    return _auc_range(y, proba, ties=True)


def _same(stored: float, recomputed: float) -> bool:
    if math.isnan(stored) or math.isnan(recomputed):
        return math.isnan(stored) and math.isnan(recomputed)
    return abs(stored - recomputed) <= EXACT_TOLERANCE


def _within(stored: float, bounds: tuple[float, float]) -> bool:
    low, high = bounds
    if math.isnan(stored) or math.isnan(low):
        return math.isnan(stored) and math.isnan(low)
    return low - EXACT_TOLERANCE <= stored <= high + EXACT_TOLERANCE


def _arrays(predictions: Any, n_test: Any) -> tuple[np.ndarray, np.ndarray] | str:
    """Labels and probabilities of a row's ``predictions``, or why they are malformed."""
    if not isinstance(predictions, dict) or not {"y", "proba"} <= set(predictions):
        return "'predictions' is not a mapping with 'y' and 'proba'"
    try:
        y = np.asarray(predictions["y"])
        proba = np.asarray(predictions["proba"], dtype=np.float64)
    except (TypeError, ValueError) as err:
        return f"'predictions' are not numeric arrays ({err})"
    if y.ndim != 1 or (len(y) and y.dtype.kind not in "iu"):
        return "'predictions.y' is not a list of integer labels"
    if proba.ndim != 2 or len(proba) != len(y) or proba.shape[1] < 2 or not len(y):
        return (f"'predictions.proba' has shape {proba.shape}, expected ({len(y)}, n_classes "
                ">= 2)")
    if not np.isfinite(proba).all() or y.min() < 0 or y.max() >= proba.shape[1]:
        return "'predictions' hold non-finite probabilities or labels outside the classes"
    if isinstance(n_test, int) and n_test != len(y):
        return f"'n_test' is {n_test} but 'predictions' hold {len(y)} windows"
    return y.astype(np.int64), proba


def _describe(row: dict[str, Any]) -> str:
    key = row_key({k: row.get(k) for k in ResultRow.key_fields})
    return f"row {key} ({row.get('model')}, {row.get('dataset')}, fold {row.get('fold')})"


def metrics_problem(row: dict[str, Any]) -> str | None:
    """Return why ``row``'s metrics disagree with its own predictions, or None if they agree.

    See the module docstring for the rule of each schema. The message names the row (key,
    model, dataset, fold), the metric, the stored value and the recomputed value or range.
    """
    version = int(row.get("schema_version") or 0)
    predictions = row.get("predictions")
    if predictions is None:
        if version >= PREDICTIONS_SCHEMA:
            return f"{_describe(row)} stores no predictions to check its metrics against"
        return None
    if version < EXACT_SCHEMA and str(row.get("adaptation", "")).startswith("layer_probe:"):
        return None
    if isinstance(predictions, dict) and "pred" in predictions:
        return regression_problem(row)
    parsed = _arrays(predictions, row.get("n_test"))
    if isinstance(parsed, str):
        return f"{_describe(row)}: {parsed}"
    y, proba = parsed
    stored = {k: float("nan") if v is None else float(v) for k, v in row["metrics"].items()}
    unknown = sorted(set(stored) - set(METRICS))
    if unknown:
        return f"{_describe(row)}: metric(s) {unknown} cannot be recomputed (unknown metrics)"
    fast = fast_metrics(y, proba)
    if all(_same(value, fast[name]) for name, value in stored.items()):
        return _counts_problem(row, proba) if version >= EXACT_SCHEMA else None
    if version >= EXACT_SCHEMA:
        try:
            reference = compute_metrics(y, proba)
        except ValueError as err:
            return f"{_describe(row)}: its predictions cannot be scored ({err})"
        for name, value in stored.items():
            if not _same(value, reference[name]):
                return (f"{_describe(row)}: stored {name} {value!r} differs from "
                        f"{reference[name]!r} recomputed from the row's own predictions")
        return _counts_problem(row, proba)
    return _legacy_problem(row, y, proba, stored)


def _legacy_problem(row: dict[str, Any], y: np.ndarray, proba: np.ndarray,
                    stored: dict[str, float]) -> str | None:
    """The schema-4 rule: stored metrics reachable by breaking 4-decimal ties either way."""
    where = f"{_describe(row)}: stored"
    argmax = {k: v for k, v in stored.items() if k in ARGMAX_METRICS}
    reachable = reachable_argmax_metrics(y, proba) if argmax else None
    if reachable is not None:
        for name, value in argmax.items():
            seen = sorted({r[name] for r in reachable}, key=lambda v: (math.isnan(v), v))
            if not any(_same(value, v) for v in seen):
                shown = ", ".join(f"{v:.6g}" for v in seen[:10]) + (" ..." if len(seen) > 10
                                                                      else "")
                return (f"{where} {name} {value!r} is none of the values reachable from the "
                        f"row's own 4-decimal predictions with ties broken either way: {shown}")
        if not any(all(_same(v, r[k]) for k, v in argmax.items()) for r in reachable):
            return (f"{where} {argmax} are not reached together by any way of breaking the "
                    "ties of the row's own 4-decimal predictions")
    if "roc_auc" in stored:
        low, high = legacy_auc_range(y, proba)
        value = stored["roc_auc"]
        if not _within(value, (low, high)):
            return (f"{where} roc_auc {value!r} lies outside [{low!r}, {high!r}], the values "
                    "reachable from the row's own 4-decimal predictions (ties broken either "
                    "way)")
        if proba.shape[1] == 2 and not math.isnan(value):
            pairs = 2 * int((y == 1).sum()) * int((y == 0).sum())  # AUC counts half pairs
            if abs(value * pairs - round(value * pairs)) > 1e-6:
                return (f"{where} roc_auc {value!r} is not a count of ordered pairs over the "
                        f"{pairs // 2} positive/negative pairs of the row's predictions")
    return None


def _counts_problem(row: dict[str, Any], proba: np.ndarray) -> str | None:
    counts = row.get("predicted_class_counts")
    if counts is None:
        return None
    actual = np.bincount(proba.argmax(axis=1), minlength=proba.shape[1]).tolist()
    if list(counts) != actual:
        return (f"{_describe(row)}: stored predicted_class_counts {list(counts)} differ from "
                f"{actual}, the argmax counts of its own predictions")
    return None


def _regression_arrays(predictions: dict[str, Any], n_test: Any
                       ) -> tuple[np.ndarray, np.ndarray] | str:
    """Targets and predictions of a regression row, or why they are malformed."""
    if not {"y", "pred", "train_mean"} <= set(predictions) or "proba" in predictions:
        return ("'predictions' of a regression row must hold 'y', 'pred' and 'train_mean' "
                f"(and no 'proba'); found keys {sorted(predictions)}")
    try:
        y = np.asarray(predictions["y"], dtype=np.float64)
        pred = np.asarray(predictions["pred"], dtype=np.float64)
        train_mean = float(predictions["train_mean"])
    except (TypeError, ValueError) as err:
        return f"'predictions' are not numeric ({err})"
    if y.ndim != 1 or pred.shape != y.shape or not len(y):
        return (f"'predictions.y' and 'predictions.pred' have shapes {y.shape} and "
                f"{pred.shape}, expected two 1-D arrays of the same non-zero length")
    if not (np.isfinite(y).all() and np.isfinite(pred).all() and math.isfinite(train_mean)):
        return "'predictions' hold non-finite targets, predictions or training mean"
    if isinstance(n_test, int) and n_test != len(y):
        return f"'n_test' is {n_test} but 'predictions' hold {len(y)} windows"
    return y, pred


def regression_problem(row: dict[str, Any]) -> str | None:
    """Return why a regression row's metrics disagree with its own predictions, or None.

    Every stored metric must be a registered regression metric, equal (to
    :data:`EXACT_TOLERANCE`) to the value recomputed from the row's stored targets and
    float32 predictions; ``predicted_class_counts`` must be empty.
    """
    parsed = _regression_arrays(row["predictions"], row.get("n_test"))
    if isinstance(parsed, str):
        return f"{_describe(row)}: {parsed}"
    y, pred = parsed
    stored = {k: float("nan") if v is None else float(v) for k, v in row["metrics"].items()}
    unknown = sorted(k for k in stored if k not in METRICS or metric_kind(k) != "regression")
    if unknown:
        return (f"{_describe(row)}: metric(s) {unknown} are not regression metrics and cannot "
                "be recomputed from numeric predictions")
    if row.get("predicted_class_counts") is not None:
        return f"{_describe(row)}: a regression row stores predicted_class_counts"
    recomputed = compute_regression_metrics(y, pred)
    for name, value in stored.items():
        if not _same(value, recomputed[name]):
            return (f"{_describe(row)}: stored {name} {value!r} differs from "
                    f"{recomputed[name]!r} recomputed from the row's own predictions")
    return None
