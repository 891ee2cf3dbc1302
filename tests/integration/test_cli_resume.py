"""The CLI end to end on real eegmat subjects: rows per fold, provenance, resume, leaderboard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUBJECTS = "dataset.subjects=[00,01,02,03,04]"


def _run(args, runs_dir: Path, cache_dir: Path, data_root: Path):
    env = {**os.environ, "EEGBENCH_RUNS_DIR": str(runs_dir), "EEGBENCH_CACHE_DIR": str(cache_dir),
           "EEGBENCH_DATA_ROOT": str(data_root)}
    proc = subprocess.run([sys.executable, "-m", "eegbench", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stderr + proc.stdout


def _rows_dir(runs: Path) -> Path:
    """Rows of the runs without +exp: <runs>/default/results (experiment.name=default)."""
    return runs / "default" / "results" / "rows"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_root):
    runs = tmp_path_factory.mktemp("runs")
    cache = tmp_path_factory.mktemp("cache")
    log = _run(["model=ts_lr", SUBJECTS], runs, cache, data_root)
    return runs, cache, log


def test_one_row_per_fold_with_provenance(finished_run):
    runs, _, log = finished_run
    rows = [json.loads(p.read_text()) for p in sorted(_rows_dir(runs).glob("*.json"))]
    assert len(rows) == 5
    assert sorted(r["test_subject"] for r in rows) == ["00", "01", "02", "03", "04"]
    for row in rows:
        assert row["model"] == "ts_lr" and row["protocol"] == "loso" and row["seed"] == 0
        assert row["git_revision"] and row["config_hash"]
        assert row["versions"]["torch"].startswith("2.13") and "mne" in row["versions"]
        assert set(row["metrics"]) == {"balanced_accuracy", "cohen_kappa", "f1_weighted",
                                       "roc_auc"}
        assert 0.0 <= row["metrics"]["balanced_accuracy"] <= 1.0
        assert row["test_subject"] not in row["valid_subjects"]
        # the resolved config behind config_hash travels with the row
        assert row["config"]["model"]["name"] == "ts_lr"
        assert row["config"]["preprocess"]["sfreq"] == 128.0
    assert "5 new fold(s), 0 skipped" in log


def test_rerun_skips_finished_folds_and_adds_no_rows(finished_run, data_root):
    runs, cache, _ = finished_run
    before = sorted(p.name for p in _rows_dir(runs).glob("*.json"))
    mtimes = {p.name: p.stat().st_mtime_ns for p in _rows_dir(runs).glob("*.json")}
    log = _run(["model=ts_lr", SUBJECTS], runs, cache, data_root)
    after = sorted(p.name for p in _rows_dir(runs).glob("*.json"))
    assert before == after
    assert mtimes == {p.name: p.stat().st_mtime_ns
                      for p in _rows_dir(runs).glob("*.json")}
    assert "0 new fold(s), 5 skipped" in log


def test_a_new_seed_adds_rows_for_that_seed_only(finished_run, data_root):
    runs, cache, _ = finished_run
    log = _run(["model=ts_lr", SUBJECTS, "seeds=[0,1]"], runs, cache, data_root)
    assert "5 new fold(s), 5 skipped" in log
    rows = [json.loads(p.read_text()) for p in _rows_dir(runs).glob("*.json")]
    assert sorted(r["seed"] for r in rows) == [0] * 5 + [1] * 5


def test_leaderboard_table_from_the_store(finished_run, tmp_path, monkeypatch):
    runs, _, _ = finished_run
    from eegbench.__main__ import main

    # `eegbench leaderboard` reads <runs>/default/results and writes <runs>/default/leaderboard
    monkeypatch.setenv("EEGBENCH_RUNS_DIR", str(runs))
    monkeypatch.chdir(tmp_path)
    assert main(["leaderboard", "--no-plots"]) == 0
    out = runs / "default" / "leaderboard"
    text = (out / "default.md").read_text()
    assert "| ts_lr | classical |" in text
    assert "physionet_eegmat / rest_vs_arithmetic / loso" in text
    assert (out / "index.html").is_file() and (out / "default.html").is_file()
    assert not (tmp_path / "leaderboard").exists()  # never the committed folder
