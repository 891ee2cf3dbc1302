"""Tests of a table cell against chance: across subjects (the default) and across windows.

The default test treats the subjects as the unit (random effects): a one-sided sign-flip
permutation test of each subject's score minus chance
(:func:`eegbench.leaderboard.stats.subject_chance_test`). The window-level test permutes the
labels within each test fold (:func:`eegbench.leaderboard.stats.permutation_chance_test`): a
fixed-effects check that these subjects' predictions carry label information.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from eegbench.leaderboard.stats import (
    PERMUTABLE,
    adjusted_chance_level,
    format_p,
    permutation_chance_test,
    subject_chance_test,
)

#: Level of the "not above chance" flag (one-sided subject-level test of the primary metric).
CHANCE_ALPHA = 0.05
#: Label permutations of the window-level (fixed-effects) chance test.
WINDOW_PERMUTATIONS = 1000
#: Chance level of each metric the chance tests use (balanced accuracy: 1 / n_classes).
CHANCE_OF_METRIC = {"roc_auc": 0.5}


def chance_level(metric: str, n_classes: int | None) -> float:
    """Chance level of ``metric``: 0.5 for ROC AUC, 1 / n_classes for balanced accuracy."""
    if metric in CHANCE_OF_METRIC:
        return CHANCE_OF_METRIC[metric]
    if metric == "balanced_accuracy" and n_classes:
        return 1.0 / n_classes
    return float("nan")


def _n_classes(cell: pd.DataFrame) -> int | None:
    """Number of classes of a table cell, from its stored probabilities or class counts."""
    for pred in cell.get("predictions", []):
        if isinstance(pred, dict) and pred.get("proba"):
            return len(pred["proba"][0])
    for counts in cell.get("predicted_class_counts", []):
        if isinstance(counts, dict | list) and len(counts) >= 2:
            return len(counts)
    return None


def chance_columns(frame: pd.DataFrame, primary: dict[str, str],
                   group_columns: Sequence[str]) -> pd.DataFrame:
    """Per table cell: the chance tests and MOABB's adjusted chance level.

    Columns ``chance_metric``; ``chance`` (the metric's chance level, :func:`chance_level`);
    ``p_chance`` (the default test: one-sided sign-flip permutation test across subjects of
    each subject's score minus chance, :func:`eegbench.leaderboard.stats.subject_chance_test`)
    with ``p_chance_exact`` and ``p_chance_floor``; ``above_chance`` (``p_chance`` <
    :data:`CHANCE_ALPHA`; True / False / NaN); ``p_chance_windows`` (fixed effects: labels
    permuted within each test fold, :data:`WINDOW_PERMUTATIONS` permutations, NaN for rows
    without stored predictions; it asks whether the predictions of *these* subjects carry
    label information, not whether the model generalises to new subjects) and
    ``adjusted_chance`` (binomial 95th-percentile accuracy of chance for the median number of
    test windows per fold, Combrisson & Jerbi 2015; meaningful for balanced classes), one row
    per cell of ``group_columns``.
    """
    rows = []
    has_pred = "predictions" in frame
    for key, cell in frame.groupby(group_columns, dropna=False, sort=True):
        metric = primary.get(str(key[0]), "balanced_accuracy")
        metric = metric if metric in PERMUTABLE else "balanced_accuracy"
        preds = list(cell["predictions"]) if has_pred else [None] * len(cell)
        windows = permutation_chance_test(preds, list(cell["test_subject"]), metric,
                                          n_permutations=WINDOW_PERMUTATIONS)
        n_classes = _n_classes(cell)
        adjusted = (adjusted_chance_level(n_classes, int(cell["n_test"].median()))
                    if n_classes else float("nan"))
        chance = chance_level(metric, n_classes)
        scores = cell.groupby("test_subject")[f"metric.{metric}"].mean()
        subjects = subject_chance_test(scores.to_numpy(), chance)
        p = subjects["p_value"]
        rows.append({**dict(zip(group_columns, key, strict=True)), "chance_metric": metric,
                     "chance": chance, "p_chance": p, "p_chance_exact": subjects["exact"],
                     "p_chance_floor": subjects["floor"],
                     "p_chance_windows": windows["p_value"], "adjusted_chance": adjusted,
                     "above_chance": (np.nan if np.isnan(p) else bool(p < CHANCE_ALPHA))})
    return pd.DataFrame(rows)


def format_p_chance(p: float | None, above_chance: Any = None, floor: float | None = None,
                    exact: bool = False) -> str:
    """A chance test's p-value for a table cell, flagged "NOT above chance" at CHANCE_ALPHA.

    A p at the floor of a randomised permutation test (``floor`` = 1 / (draws + 1)) reads
    "< 1/draws" (:func:`eegbench.leaderboard.stats.format_p`).
    """
    if p is None or pd.isna(p):
        return "n/a"
    flag = "" if above_chance is True or p < CHANCE_ALPHA else " NOT above chance"
    return f"{format_p(p, floor, exact)}{flag}"
