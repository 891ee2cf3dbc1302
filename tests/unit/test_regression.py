"""Regression tasks on small synthetic cases: metrics and their direction, stored predictions,
row recomputation, the tables' statistics, the target table's errors and the regressors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from eegbench.data.errors import RecipeError
from eegbench.data.recipe import load_recipe
from eegbench.data.targets import read_subject_targets
from eegbench.leaderboard.regression import subject_table
from eegbench.leaderboard.regression import summarize as regression_summary
from eegbench.leaderboard.stats import compare_with_best
from eegbench.leaderboard.tables import is_regression
from eegbench.metrics import (
    METRICS,
    compute_metrics,
    compute_regression_metrics,
    higher_is_better,
    metrics_of_kind,
    score_regression,
)
from eegbench.results.recompute import metrics_problem


# -- metrics ---------------------------------------------------------------------------------
def test_regression_metrics_have_their_direction_and_kind():
    assert {"mae", "rmse", "r2", "pearson_r", "abs_error_of_mean"} == set(
        metrics_of_kind("regression"))
    assert not higher_is_better("mae") and not higher_is_better("rmse")
    assert not higher_is_better("abs_error_of_mean")
    assert higher_is_better("r2") and higher_is_better("pearson_r")
    assert higher_is_better("balanced_accuracy")
    # classification rows get classification metrics only
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.4, 0.6]])
    assert set(compute_metrics(np.array([0, 1, 0]), proba)) == set(
        metrics_of_kind("classification"))


def test_regression_metrics_match_their_definitions():
    y = np.array([20.0, 25.0, 30.0, 18.0])
    pred = np.array([22.0, 24.0, 27.5, 19.0])
    out = compute_regression_metrics(y, pred)
    assert out["mae"] == pytest.approx(np.mean(np.abs(pred - y)))
    assert out["rmse"] == pytest.approx(np.sqrt(np.mean((pred - y) ** 2)))
    assert out["r2"] == pytest.approx(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))
    assert out["pearson_r"] == pytest.approx(np.corrcoef(y, pred)[0, 1])
    assert out["abs_error_of_mean"] == pytest.approx(abs(pred.mean() - y.mean()))


def test_one_subject_with_one_target_has_no_r2_but_an_error_of_its_mean():
    y = np.full(5, 21.0)
    pred = np.array([20.0, 22.0, 23.0, 19.5, 21.5])
    out = compute_regression_metrics(y, pred)
    assert math.isnan(out["r2"]) and math.isnan(out["pearson_r"])
    assert out["abs_error_of_mean"] == pytest.approx(0.2)  # |21.2 - 21|
    assert out["mae"] == pytest.approx(np.mean(np.abs(pred - y)))


@pytest.mark.parametrize("pred", [[1.0, np.nan], [1.0]])
def test_regression_metrics_refuse_bad_predictions(pred):
    with pytest.raises(ValueError, match="targets and predictions"):
        compute_regression_metrics(np.array([1.0, 2.0]), np.array(pred))


# -- rows -------------------------------------------------------------------------------------
def _row(y, pred, train_mean=18.0):
    predictions, metrics = score_regression(np.asarray(y, float), np.asarray(pred, float),
                                            train_mean)
    return {"schema_version": 5, "model": "ts_ridge", "dataset": "d", "fold": "subject-01",
            "task": "age", "protocol": "loso", "adaptation": "from_scratch", "seed": 0,
            "shots": None, "config_hash": "c", "data_fingerprint": None,
            "code_fingerprint": None, "checkpoint": None, "n_test": len(y),
            "metrics": metrics, "predictions": predictions, "predicted_class_counts": None,
            "target": {"name": "age", "column": "Age"}}


def test_stored_predictions_are_float32_and_recompute_exactly():
    pred = np.array([17.123456789, 18.987654321, 16.5])
    row = _row([17.0, 17.0, 17.0], pred)
    stored = np.asarray(row["predictions"]["pred"])
    np.testing.assert_array_equal(stored.astype(np.float32), pred.astype(np.float32))
    assert row["metrics"]["mae"] == compute_regression_metrics(np.full(3, 17.0), stored)["mae"]
    assert metrics_problem(row) is None


def test_an_edited_regression_metric_or_prediction_is_caught():
    row = _row([17.0, 17.0, 17.0], [16.0, 18.5, 17.25])
    edited = {**row, "metrics": {**row["metrics"], "mae": 0.1}}
    assert "stored mae 0.1 differs" in metrics_problem(edited)
    moved = {**row, "predictions": {**row["predictions"], "pred": [17.0, 17.0, 17.0]}}
    assert "differs from" in metrics_problem(moved)
    foreign = {**row, "metrics": {**row["metrics"], "balanced_accuracy": 0.5}}
    assert "not regression metrics" in metrics_problem(foreign)
    no_mean = {**row, "predictions": {k: v for k, v in row["predictions"].items()
                                      if k != "train_mean"}}
    assert "'train_mean'" in metrics_problem(no_mean)
    assert "n_test" in metrics_problem({**row, "n_test": 4})


# -- statistics -------------------------------------------------------------------------------
def test_compare_with_best_picks_the_lowest_error_when_lower_is_better():
    scores = pd.DataFrame({"block": "b", "model": np.repeat(["good", "bad"], 6),
                           "test_subject": np.tile([f"{i}" for i in range(6)], 2),
                           "err": [1, 2, 1, 0.5, 1.5, 1, 3, 4, 3.5, 2, 5, 4]})
    low = compare_with_best(scores, ["block"], ["model"], "err", higher_is_better=False)
    best = low.set_index("model")
    assert best.loc["good", "is_best"] and not best.loc["bad", "is_best"]
    assert best.loc["bad", "diff_vs_best"] > 0  # a larger error than the best
    high = compare_with_best(scores, ["block"], ["model"], "err")
    assert high.set_index("model").loc["bad", "is_best"]  # the default: higher is better


def _frame(n_subjects=8, seed=0):
    """Rows of two models on subjects with one target each: a good one and the mean."""
    rng = np.random.default_rng(seed)
    targets = rng.uniform(16, 26, n_subjects)
    rows = []
    for model, noise in (("ts_ridge", 0.5), ("mean_regressor", None)):
        for s in range(n_subjects):
            others = np.delete(targets, s)
            train_mean = float(others.mean())
            pred = (np.full(10, train_mean) if noise is None
                    else targets[s] + rng.normal(0, noise, 10))
            predictions, metrics = score_regression(np.full(10, targets[s]), pred, train_mean)
            rows.append({"dataset": "physionet_eegmat", "task": "age", "protocol": "loso",
                         "shots": 0, "model": model, "family": "classical",
                         "adaptation": "from_scratch", "calibration": "none",
                         "config_hash": model[:4], "test_subject": f"{s:02d}", "seed": 0,
                         "predictions": predictions, "n_parameters": 10,
                         "train_seconds": 0.1, "fit_report": {}, "config": None,
                         "target": {"column": "Age", "unit": "years"},
                         **{f"metric.{k}": v for k, v in metrics.items()}})
    return pd.DataFrame(rows), targets


def test_regression_summary_pools_subjects_and_tests_against_the_training_mean():
    frame, targets = _frame()
    assert is_regression(frame).all()
    summary, subj = regression_summary(frame)
    by_model = summary.set_index("model")
    ridge, mean = by_model.loc["ts_ridge"], by_model.loc["mean_regressor"]
    assert ridge["rank"] == 1 and ridge["is_best"] and mean["rank"] == 2
    # pooled R2 / r over the subjects' mean predictions, not a mean of per-fold values
    cell = subj[subj["model"] == "ts_ridge"]
    assert ridge["r2_subjects"] == pytest.approx(skm.r2_score(cell["target"],
                                                              cell["mean_prediction"]))
    assert ridge["pearson_r_subjects"] == pytest.approx(
        stats.pearsonr(cell["target"], cell["mean_prediction"]).statistic)
    np.testing.assert_allclose(np.sort(cell["target"]), np.sort(targets))
    # the per-subject score is the absolute error of the subject's mean prediction
    np.testing.assert_allclose(cell["abs_error_of_mean"],
                               np.abs(cell["mean_prediction"] - cell["target"]))
    # p vs the training mean: one-sided Wilcoxon of the paired absolute errors
    expected = stats.wilcoxon(np.round(cell["chance_abs_error"] - cell["abs_error_of_mean"], 9),
                              alternative="greater").pvalue
    assert ridge["p_chance"] == pytest.approx(expected) and ridge["p_chance"] < 0.05
    # the reference itself: errors equal the chance errors (p = 1), R2 < 0 under LOSO
    assert mean["p_chance"] == 1.0 and mean["r2_subjects"] < 0
    assert mean["diff_vs_best"] > 0 and mean["p_holm"] < 0.05


def test_subject_table_averages_seeds():
    frame, _ = _frame(n_subjects=4)
    twice = pd.concat([frame, frame.assign(seed=1)], ignore_index=True)
    subj = subject_table(twice)
    assert (subj["n_seeds"] == 2).all() and len(subj) == len(subject_table(frame))


# -- targets ----------------------------------------------------------------------------------
@pytest.fixture
def target_spec():
    return load_recipe("physionet_eegmat", task="age").model.target


def _write(tmp_path, text):
    path = tmp_path / "subject-info.csv"
    path.write_text(text)
    return path


def test_targets_are_read_per_subject(tmp_path, target_spec):
    path = _write(tmp_path, "Subject,Age\nSubject00,21\nSubject01, 18.5\n")
    spec = target_spec.model_copy(update={"sha256": None})
    assert read_subject_targets(path, spec, ["00", "01"], "here") == {"00": 21.0, "01": 18.5}


@pytest.mark.parametrize(("text", "subjects", "message"), [
    ("Subject,Years\nSubject00,21\n", ["00"], r"no column 'Age' .*columns are \['Subject', "
                                              r"'Years'\]"),
    ("Subject,Age\nSubject00,21\n", ["00", "07"], r"no row for subject '07' .*'Subject07'"),
    ("Subject,Age\nSubject00,21\nSubject00,22\n", ["00"], "2 rows for subject '00'"),
    ("Subject,Age\nSubject00,unknown\n", ["00"], r"subject '00' .*has Age 'unknown', not a "
                                                 "finite number"),
    ("Subject,Age\nSubject00,\n", ["00"], r"has Age '', not a finite number"),
])
def test_bad_target_tables_say_which_file_subject_and_value(tmp_path, target_spec, text,
                                                             subjects, message):
    path = _write(tmp_path, text)
    spec = target_spec.model_copy(update={"sha256": None})
    with pytest.raises(RecipeError, match=message) as err:
        read_subject_targets(path, spec, subjects, "recipe 'physionet_eegmat', task 'age'")
    assert str(path) in str(err.value)


def test_a_changed_or_missing_target_table_is_refused(tmp_path, target_spec):
    path = _write(tmp_path, "Subject,Age\nSubject00,21\n")
    with pytest.raises(RecipeError, match="sha256 .* differs from the 09c59511"):
        read_subject_targets(path, target_spec, ["00"], "here")
    with pytest.raises(FileNotFoundError, match="target table"):
        read_subject_targets(tmp_path / "absent.csv", target_spec, ["00"], "here")


def test_a_target_task_needs_a_regression_metric_and_resolves_to_rest_files():
    recipe = load_recipe("physionet_eegmat", task="age")
    assert recipe.is_regression and recipe.in_task("Subject04_1.edf")
    assert not recipe.in_task("Subject04_2.edf")
    assert METRICS.get(recipe.model.primary_metric).kind == "regression"
    # the classification task keeps the recipe's fingerprint: targets are not hashed
    plain = load_recipe("physionet_eegmat", task="rest_vs_arithmetic")
    assert not plain.is_regression and plain.fingerprint() != recipe.fingerprint()
    raw = {**plain.raw, "targets": {"age": {**plain.raw["targets"]["age"],
                                            "primary_metric": "balanced_accuracy"}}}
    from eegbench.data.recipe import Recipe

    with pytest.raises(RecipeError, match="must be a regression metric"):
        Recipe(name="physionet_eegmat", raw=raw)


# -- models -----------------------------------------------------------------------------------
def test_ts_ridge_selects_its_penalty_across_training_subjects_only():
    from eegbench.models import SignalSpec, build_model

    rng = np.random.default_rng(0)
    n_subjects, per = 6, 8
    groups = np.repeat([f"{s}" for s in range(n_subjects)], per)
    scale = np.repeat(rng.uniform(0.5, 2.0, n_subjects), per)
    X = rng.standard_normal((len(groups), 4, 128)) * scale[:, None, None]
    y = np.repeat(rng.uniform(16, 26, n_subjects), per)
    signal = SignalSpec(4, 128, 128.0, 2)
    model = build_model("ts_ridge")
    report = model.fit(X, y, X[:0], y[:0], signal, 0, groups=groups)
    assert report["inner_cv"] == "GroupKFold(5) over the training subjects"
    assert 1e-3 <= report["alpha"] <= 1e5
    assert model.predict(X).shape == (len(X),)
    with pytest.raises(TypeError, match="regression model"):
        model.predict_proba(X)
    reference = build_model("mean_regressor")
    reference.fit(X, y, X[:0], y[:0], signal, 0, groups=groups)
    np.testing.assert_allclose(reference.predict(X), y.mean())


def test_a_classifier_on_a_regression_task_is_refused_and_vice_versa():
    from eegbench.data.windows import WindowsDataset
    from eegbench.evaluation.fold import check_model_task
    from eegbench.models import build_model

    meta = pd.DataFrame({"subject": ["00", "01"], "label": [0, 0], "target": [21.0, 18.0]})
    regression = WindowsDataset(np.zeros((2, 2, 8)), meta, {
        "classes": ["rest", "arithmetic"], "target": {"name": "age", "column": "Age"}})
    classification = WindowsDataset(np.zeros((2, 2, 8)), meta.drop(columns="target"),
                                    {"classes": ["rest", "arithmetic"]})
    np.testing.assert_array_equal(regression.y, [21.0, 18.0])
    np.testing.assert_array_equal(classification.y, [0, 0])
    with pytest.raises(ValueError, match="'ts_lr' is a classifier, but task 'age' is a "
                                         "regression task .*'Age'.*ts_ridge"):
        check_model_task(build_model("ts_lr"), regression, "ts_lr", "age")
    with pytest.raises(ValueError, match="'ts_ridge' is a regression model, but task 'x'"):
        check_model_task(build_model("ts_ridge"), classification, "ts_ridge", "x")
    check_model_task(build_model("mean_regressor"), regression, "mean_regressor", "age")
