"""Hyperparameter selection by nested cross-validation on the training subjects only.

For one outer fold, every candidate of a grid is fitted on part of the fold's *training*
subjects and scored on the others (group K-fold over training subjects; the outer validation
windows, if any, still serve early stopping; the outer test windows are never touched). The
best candidate (mean inner score of the dataset's primary metric) is refitted by the caller on
all training windows. Works for any benchmark model (classical or deep): candidates are model
parameters passed to the model builder.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold

from eegbench.metrics import compute_metrics, higher_is_better

logger = logging.getLogger(__name__)


def candidates(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Expand ``{"C": [0.1, 1]}`` into ``[{"C": 0.1}, {"C": 1}]`` (sorted keys)."""
    if not grid:
        raise ValueError("Invalid value for the 'hp_search.grid' parameter. Allowed values are "
                         "non-empty mappings of parameter -> list of values, but got "
                         f"{dict(grid or {})!r}.")
    keys = sorted(grid)
    for key in keys:
        if not isinstance(grid[key], list | tuple) or not grid[key]:
            raise ValueError(f"Invalid value for 'hp_search.grid.{key}'. Allowed values are "
                             f"non-empty lists, but got {grid[key]!r}.")
    return [dict(zip(keys, values, strict=True))
            for values in itertools.product(*(grid[k] for k in keys))]


def select_hyperparameters(build: Callable[[dict[str, Any]], Any], grid: Mapping[str, Sequence],
                           X: np.ndarray, y: np.ndarray, groups: np.ndarray,
                           train: np.ndarray, valid: np.ndarray, signal: Any, seed: int,
                           metric: str = "balanced_accuracy", inner_folds: int = 3
                           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Choose hyperparameters by group K-fold over the training windows' groups.

    Parameters
    ----------
    build : callable
        ``build(params)`` returns a fresh model with ``params`` overriding its defaults.
    grid : mapping
        Parameter name -> candidate values.
    X, y : ndarray
        All windows and labels (indexed by ``train`` / ``valid``).
    groups : ndarray
        Group of every window (the subject; inner folds never split a group).
    train, valid : ndarray of int
        The outer fold's training windows (split into inner folds) and validation windows
        (early stopping of deep models in every inner fit).
    signal, seed
        Passed to ``model.fit``.
    metric : str
        Inner score (the dataset's primary metric).
    inner_folds : int
        Inner group folds (at most the number of training groups).

    Returns
    -------
    best, report : dict
        The chosen parameters, and ``{"inner": description, "scores": {candidate: mean}}``.

    Raises
    ------
    ValueError
        If the training windows hold fewer than two groups.
    """
    train_groups = groups[train]
    n_groups = len(np.unique(train_groups))
    if n_groups < 2:
        raise ValueError(f"nested hyperparameter selection needs training windows from >= 2 "
                         f"subjects (inner folds never split a subject); got {n_groups}.")
    n_splits = min(int(inner_folds), n_groups)
    splits = list(GroupKFold(n_splits=n_splits).split(train, groups=train_groups))
    scores: dict[str, float] = {}
    best, best_score = None, -np.inf
    sign = 1.0 if higher_is_better(metric) else -1.0  # an error metric: the lowest is best
    for params in candidates(grid):
        values = []
        for inner_train, inner_test in splits:
            model = build(params)
            model.fit(X[train[inner_train]], y[train[inner_train]], X[valid], y[valid], signal,
                      seed)
            proba = model.predict_proba(X[train[inner_test]])
            values.append(compute_metrics(y[train[inner_test]], proba)[metric])
        score = float(np.nanmean(values))
        scores[repr(params)] = round(score, 4)
        logger.info("nested selection %s: inner %s %.3f", params, metric, score)
        if sign * score > best_score:
            best, best_score = params, sign * score
    inner = (f"{n_splits}-fold group K-fold over {n_groups} training subjects, {metric}, grid "
             f"{dict(grid)}")
    return dict(best), {"inner": inner, "scores": scores, "selected": dict(best)}
