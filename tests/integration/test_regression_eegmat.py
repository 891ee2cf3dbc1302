"""A regression cell end to end on real eegmat: each subject's age from its rest recording.

Leave-one-subject-out on a few subjects with ts_ridge and the training-mean reference: the rows
hold the subjects' ages (subject-info.csv), one float32 prediction per rest window and the mean
training target; they recompute from themselves, and the regression table and its per-subject
CSV are what the tests across subjects read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eegbench.leaderboard.report import build
from eegbench.leaderboard.stats import one_sided_wilcoxon
from eegbench.results.recompute import metrics_problem

REPO = Path(__file__).resolve().parents[2]
SUBJECTS = ["01", "02", "03", "04"]  # 04: a shorter rest recording


@pytest.fixture(scope="module")
def regression_rows(tmp_path_factory, data_root):
    tmp = tmp_path_factory.mktemp("regression")
    env = {**os.environ, "EEGBENCH_RUNS_DIR": str(tmp / "runs"),
           "EEGBENCH_CACHE_DIR": str(tmp / "cache"), "EEGBENCH_DATA_ROOT": str(data_root),
           "OMP_NUM_THREADS": "1"}
    command = ["run", "-m", "model=ts_ridge,mean_regressor", "dataset=physionet_eegmat",
               "dataset.task=age", "experiment.name=age",
               f"dataset.subjects=[{','.join(SUBJECTS)}]"]
    proc = subprocess.run([sys.executable, "-m", "eegbench", *command], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    store = tmp / "runs" / "age" / "results"
    rows = [json.loads(p.read_text()) for p in sorted((store / "rows").glob("[!.]*.json"))]
    return store, rows, tmp


def test_rows_hold_the_subjects_ages_and_rest_window_predictions(regression_rows, data_root):
    _, rows, _ = regression_rows
    info = pd.read_csv(data_root / "physionet_eegmat" / "subject-info.csv")
    age = {s.removeprefix("Subject"): float(a) for s, a in zip(info["Subject"], info["Age"],
                                                                strict=True)}
    assert sorted((r["model"], r["test_subject"]) for r in rows) == sorted(
        (m, s) for m in ("ts_ridge", "mean_regressor") for s in SUBJECTS)
    windows = {}
    for row in rows:
        assert row["task"] == "age" and row["target"]["column"] == "Age"
        assert row["predicted_class_counts"] is None
        pred = row["predictions"]
        assert set(pred["y"]) == {age[row["test_subject"]]}  # one target per subject
        assert len(pred["pred"]) == row["n_test"] == len(pred["y"])
        windows[row["test_subject"]] = row["n_test"]
        assert metrics_problem(row) is None  # the metrics recompute from the row itself
        assert row["metrics"]["abs_error_of_mean"] == pytest.approx(
            abs(np.mean(pred["pred"]) - age[row["test_subject"]]))
    # rest recordings only: 36 windows of 5 s, except Subject04_1 (170 s: 34)
    assert windows == {"01": 36, "02": 36, "03": 36, "04": 34}
    for row in rows:
        others = [s for s in SUBJECTS if s != row["test_subject"]]
        train_mean = sum(age[s] * windows[s] for s in others) / sum(windows[s] for s in others)
        assert row["predictions"]["train_mean"] == pytest.approx(train_mean, rel=1e-6)
        if row["model"] == "mean_regressor":
            np.testing.assert_allclose(row["predictions"]["pred"], train_mean, rtol=1e-6)
        else:  # the penalty was selected across the training subjects only
            assert row["fit_report"]["inner_cv"] == "GroupKFold(3) over the training subjects"
            assert row["test_subject"] not in row["fit_report"]["train_subjects"]


def test_the_regression_table_and_its_tests_come_from_the_per_subject_csv(regression_rows):
    store, rows, tmp = regression_rows
    paths = build(store, tmp / "table", "age", command="test", plots=False, kind="regression")
    text = paths["md"].read_text()
    assert "physionet_eegmat / age / loso (regression)" in text
    assert "p vs training mean" in text and "R² (subjects)" in text
    summary = pd.read_csv(paths["csv"], dtype={"config_hash": str})
    subj = pd.read_csv(paths["per_subject"], dtype={"config_hash": str, "test_subject": str})
    assert len(subj) == 2 * len(SUBJECTS)
    for _, r in summary.iterrows():
        cell = subj[subj["config_hash"] == r["config_hash"]]
        assert r["primary_mean"] == pytest.approx(cell["abs_error_of_mean"].mean())
        assert r["p_chance"] == pytest.approx(one_sided_wilcoxon(
            cell["chance_abs_error"].to_numpy(), cell["abs_error_of_mean"].to_numpy()))
    reference = summary.set_index("model").loc["mean_regressor"]
    assert reference["p_chance"] == 1.0  # its errors are the training mean's
    # a classification build of the same store has nothing to show
    with pytest.raises(FileNotFoundError, match="classification tasks"):
        build(store, tmp / "none", "age", command="test", plots=False, kind="classification")
