"""Tests against chance, bootstrap intervals and the critical-difference test.

The chance test is checked on real eegmat leave-one-subject-out predictions of ts_lr (the
cheaper classical pipeline; fb_ts_lr is nine ts_lr's in a filter bank): p < 0.05 with the true
labels, p > 0.05 when the labels were permuted before training (predictions carry no label
information).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from eegbench.leaderboard.stats import (
    adjusted_chance_level,
    bootstrap_ci,
    friedman_nemenyi,
    permutation_chance_test,
)
from eegbench.models.base import SignalSpec, build_model
from eegbench.protocols.splitters import make_splitter

SUBJECTS = ["00", "01", "02", "03", "04", "05", "06", "07"]


def _loso_predictions(ds, labels):
    meta = ds.meta[ds.meta["subject"].isin(SUBJECTS)]
    idx = meta.index.to_numpy()
    X, y = np.asarray(ds.X[idx]), labels[idx]
    meta = meta.reset_index(drop=True)
    signal = SignalSpec.from_info(ds.info, X.shape[-1])
    preds, subjects = [], []
    for fold in make_splitter("loso", seed=0, n_valid_subjects=1).split(meta):
        model = build_model("ts_lr", estimator="oas", C=1.0)
        model.fit(X[fold.train], y[fold.train], X[fold.valid], y[fold.valid], signal, 0)
        preds.append({"y": y[fold.test].tolist(),
                      "proba": model.predict_proba(X[fold.test]).round(4).tolist()})
        subjects.append(fold.test_subjects[0])
    return preds, subjects


@pytest.mark.slow
def test_chance_test_on_real_predictions_and_on_a_label_permuted_run(eegmat):
    y = eegmat.y
    preds, subjects = _loso_predictions(eegmat, y)
    real = permutation_chance_test(preds, subjects, "balanced_accuracy", seed=0)
    # the recomputed score is the mean over subjects of the per-fold balanced accuracy
    expected = np.mean([balanced_accuracy_score(p["y"], np.argmax(p["proba"], 1))
                        for p in preds])
    assert real["score"] == pytest.approx(expected)
    assert real["p_value"] < 0.05 and real["n_folds"] == len(SUBJECTS)
    auc = permutation_chance_test(preds, subjects, "roc_auc", seed=0)
    aucs = [roc_auc_score(p["y"], np.asarray(p["proba"])[:, 1]) for p in preds]
    assert auc["score"] == pytest.approx(np.mean(aucs))
    # labels permuted within each subject before training and testing: nothing to learn
    rng = np.random.default_rng(1)
    shuffled = y.copy()
    for subject in SUBJECTS:
        own = np.flatnonzero(eegmat.meta["subject"].to_numpy() == subject)
        shuffled[own] = rng.permutation(y[own])
    noise = permutation_chance_test(*_loso_predictions(eegmat, shuffled), "balanced_accuracy")
    assert noise["p_value"] > 0.05
    assert abs(noise["null_mean"] - 0.5) < 0.02


def test_adjusted_chance_level_matches_moabb():
    moabb = pytest.importorskip("moabb.analysis.chance_level")
    for n_classes, n_trials in ((2, 48), (4, 32), (2, 1000)):
        assert adjusted_chance_level(n_classes, n_trials) == pytest.approx(
            moabb.adjusted_chance_level(n_classes, n_trials))
    # SSVEP: 4 classes, 32 test trials per subject -> chance exceeds ~0.375 one time in 20
    assert 0.35 < adjusted_chance_level(4, 32) < 0.40


def test_rows_without_predictions_give_no_p_value():
    res = permutation_chance_test([None, {"y": [0]}], ["a", "b"], "balanced_accuracy")
    assert np.isnan(res["p_value"]) and res["n_folds"] == 0


def test_bootstrap_interval_brackets_the_mean():
    x = np.array([0.55, 0.61, 0.7, 0.52, 0.66, 0.59, 0.73, 0.5])
    low, high = bootstrap_ci(x)
    assert low < x.mean() < high and high - low < 0.2
    assert all(np.isnan(bootstrap_ci(x[:2])))


def test_friedman_nemenyi_critical_difference():
    scores = pd.DataFrame({"a": [0.9, 0.8, 0.85, 0.7, 0.95], "b": [0.6, 0.65, 0.7, 0.6, 0.7],
                           "c": [0.5, 0.55, 0.52, 0.5, 0.6]})
    res = friedman_nemenyi(scores)
    assert list(res["mean_ranks"].index) == ["a", "b", "c"]
    assert res["mean_ranks"]["a"] == 1.0 and res["mean_ranks"]["c"] == 3.0
    assert res["cd"] == pytest.approx(2.343 * np.sqrt(3 * 4 / (6 * 5)))  # Demsar 2006
    assert res["friedman_p"] < 0.05


def test_subject_level_chance_column_and_a_caption_for_too_few_subjects():
    from eegbench.leaderboard.tables import block_caption, summarize, table_rows

    def rows(model, scores):
        return [{"dataset": "d", "task": "t", "protocol": "loso", "model": model,
                 "family": "classical", "adaptation": "from_scratch", "config_hash": model,
                 "test_subject": f"{i:02d}", "seed": 0, "n_parameters": 10, "n_test": 40,
                 "train_seconds": 1.0, "inference_seconds": 0.1, "peak_rss_mb": 1.0,
                 "predicted_class_counts": [20, 20], "metric.balanced_accuracy": s}
                for i, s in enumerate(scores)]

    frame = pd.DataFrame(rows("a", [0.6, 0.7, 0.55, 0.8, 0.65])
                         + rows("b", [0.6, 0.4, 0.55, 0.45, 0.5]))
    summary = summarize(frame, metrics=("balanced_accuracy",)).set_index("model")
    # every subject above chance: the exact sign-flip floor 1 / 2**5; b: 3 of 5 at or below
    assert summary.loc["a", "p_chance"] == pytest.approx(1 / 32)
    assert summary.loc["a", "chance"] == 0.5 and bool(summary.loc["a", "p_chance_exact"])
    assert summary.loc["b", "p_chance"] > 0.5 and not summary.loc["b", "above_chance"]
    caption = block_caption(summary.reset_index(), ["balanced_accuracy"])
    assert "smallest two-sided Wilcoxon p is 0.0625" in caption
    header, cells = table_rows(summary.reset_index(), ["balanced_accuracy"])
    assert "p vs chance (subjects)" in header and "uses test data" in header
    assert "p vs chance (windows, fixed effects)" in header
    assert cells[0][header.index("p vs chance (subjects)")] == "0.0312"
    assert cells[1][header.index("p vs chance (subjects)")].endswith("NOT above chance")
