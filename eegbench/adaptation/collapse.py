"""Collapse detection: how many test windows a fold's model assigns to each class."""

from __future__ import annotations

import numpy as np


def predicted_class_counts(proba: np.ndarray, n_classes: int | None = None) -> list[int]:
    """Return the number of windows predicted (argmax) as each class, in class order."""
    proba = np.asarray(proba)
    n_classes = int(n_classes or (proba.shape[1] if proba.ndim == 2 else 0))
    if proba.size == 0:
        return [0] * n_classes
    return np.bincount(np.argmax(proba, axis=1), minlength=n_classes).astype(int).tolist()


def is_collapsed(counts: list[int]) -> bool:
    """True when every predicted window falls in a single class (a collapsed model).

    A fold with fewer than two test windows cannot show a collapse and is never flagged.
    """
    return sum(counts) >= 2 and sum(1 for c in counts if c > 0) <= 1
