"""A row's metrics are recomputed from the predictions it stores (synthetic edge cases).

Rows of schema 5 must match exactly; rows of schema 4 (4-decimal probabilities) must lie in
the range reachable by breaking ties of the rounded probabilities either way.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from eegbench.metrics import compute_metrics, score_predictions
from eegbench.results.recompute import fast_metrics, legacy_auc_range, metrics_problem


def _row(y, proba, metrics, version=5, **extra):
    return {"schema_version": version, "dataset": "d", "task": "t", "protocol": "loso",
            "fold": "subject-1", "model": "m", "adaptation": "from_scratch", "seed": 0,
            "shots": None, "config_hash": "c", "data_fingerprint": None,
            "code_fingerprint": None, "checkpoint": None, "n_test": len(y),
            "metrics": metrics, "predictions": {"y": list(y), "proba": proba}, **extra}


@pytest.mark.parametrize("n_classes", [2, 4])
def test_fast_metrics_agree_with_scikit_learn(n_classes):
    rng = np.random.default_rng(n_classes)
    for _ in range(50):
        y = rng.integers(0, n_classes, 40)
        proba = rng.dirichlet(np.ones(n_classes), size=40)
        proba[:5] = proba[5]  # ties
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = compute_metrics(y, proba)
        fast = fast_metrics(y, proba)
        for name, value in reference.items():
            assert fast[name] == pytest.approx(value, abs=1e-12, nan_ok=True), name


def test_a_schema_5_row_must_match_exactly():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 30)
    predictions, metrics = score_predictions(y, rng.dirichlet([1, 1], size=30))
    row = _row(predictions["y"], predictions["proba"], metrics,
               predicted_class_counts=np.bincount(np.argmax(predictions["proba"], 1),
                                                  minlength=2).tolist())
    row = json.loads(json.dumps(row))  # as read back from a file
    assert metrics_problem(row) is None
    edited = {**row, "metrics": {**metrics, "roc_auc": metrics["roc_auc"] + 1e-6}}
    assert "stored roc_auc" in metrics_problem(edited)
    counts = {**row, "predicted_class_counts": [0, 30]}
    assert "predicted_class_counts" in metrics_problem(counts)
    assert "stores no predictions" in metrics_problem({**row, "predictions": None})
    assert "n_test" in metrics_problem({**row, "n_test": 31})


def test_a_legacy_tie_may_have_been_broken_either_way():
    # the model gave 0.50004 / 0.49996 (class 0 wins); stored as 0.5 / 0.5
    y = [0, 1, 1, 0]
    exact = np.array([[0.50004, 0.49996], [0.2, 0.8], [0.3, 0.7], [0.9, 0.1]])
    stored = np.round(exact, 4).tolist()
    metrics = compute_metrics(np.array(y), exact)
    assert metrics_problem(_row(y, stored, metrics, version=4)) is None
    # argmax of the stored values picks class 0 too here; the other way must pass as well
    flipped = compute_metrics(np.array(y), np.array([[0.49996, 0.50004], *exact[1:]]))
    assert flipped["balanced_accuracy"] != metrics["balanced_accuracy"]
    assert metrics_problem(_row(y, stored, flipped, version=4)) is None
    # ...but a value no tie-breaking reaches is refused, naming the range
    edited = {**metrics, "balanced_accuracy": 0.99}
    assert "none of the values reachable" in metrics_problem(_row(y, stored, edited, version=4))
    assert "0.75, 1" in metrics_problem(_row(y, stored, edited, version=4))
    # schema 5 has no such slack
    assert metrics_problem(_row(y, stored, flipped, version=5)) is not None


def test_legacy_auc_range_counts_tied_positive_negative_pairs():
    y = np.array([0, 1, 0, 1])
    proba = np.array([[0.6, 0.4], [0.6, 0.4], [0.2, 0.8], [0.1, 0.9]])
    low, high = legacy_auc_range(y, proba)
    # (positive, negative) pairs: (1, 0) tied at 0.4 (1/2, or 0 or 1 before rounding),
    # (1, 2) misordered, (3, 0) and (3, 2) ordered: 2.5 / 4 +- 0.5 / 4
    assert (low, high) == pytest.approx((0.5, 0.75))
