"""Hydra sweeps through real launchers (joblib processes, submitit local executor).

All jobs of a sweep write to one results store and make one leaderboard; a failing job is
recorded and does not stop the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MUSE = "muse_visual_p300_eegnotebooks"
SSVEP = "ssvep_exo_kalunga2016"


def _sweep(args, tmp_path: Path, data_root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "EEGBENCH_RUNS_DIR": str(tmp_path / "runs"),
           "EEGBENCH_CACHE_DIR": str(tmp_path / "cache"), "EEGBENCH_DATA_ROOT": str(data_root)}
    return subprocess.run([sys.executable, "-m", "eegbench", "-m", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)


def _rows(tmp_path: Path) -> list[dict]:
    rows_dir = tmp_path / "runs" / "default" / "results" / "rows"
    return [json.loads(p.read_text()) for p in sorted(rows_dir.glob("[!.]*.json"))]


def _n_subjects(data_root: Path, folder: str) -> int:
    return len([p for p in (data_root / folder).glob("subject*") if p.is_dir()])


@pytest.mark.parametrize("launcher", [pytest.param("local_processes", marks=pytest.mark.slow),
                                      "submitit_local"])
def test_sweep_datasets_by_models_into_one_store(launcher, tmp_path, data_root):
    datasets = f"dataset={MUSE},{SSVEP}" if launcher == "local_processes" else f"dataset={MUSE}"
    proc = _sweep(["model=ts_lr,csp_lda", datasets, f"hydra/launcher={launcher}"], tmp_path,
                  data_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(tmp_path)
    n_expected = 2 * _n_subjects(data_root, MUSE)
    if launcher == "local_processes":
        n_expected += 2 * _n_subjects(data_root, SSVEP)
    assert len(rows) == n_expected
    assert {r["model"] for r in rows} == {"ts_lr", "csp_lda"}
    keys = {(r["dataset"], r["model"], r["fold"], r["seed"]) for r in rows}
    assert len(keys) == len(rows)

    from eegbench.leaderboard.__main__ import main

    main(["--results", str(tmp_path / "runs" / "default" / "results"), "--out",
          str(tmp_path / "lb"), "--name", "loso"])
    table = (tmp_path / "lb" / "loso.md").read_text()
    assert f"### {MUSE} /" in table
    assert "| ts_lr |" in table and "| csp_lda |" in table


def test_a_failing_job_is_recorded_and_the_sweep_goes_on(tmp_path, data_root):
    # subject 999 has no recording: a valid configuration whose job fails when it looks for
    # the files (a runtime failure, recorded); the other job must still run.
    proc = _sweep(["model=ts_lr", f"dataset={MUSE}", "dataset.subjects=[999],[1,2,3]"],
                  tmp_path, data_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(tmp_path)
    assert sorted(r["test_subject"] for r in rows) == ["1", "2", "3"]
    failures = list((tmp_path / "runs" / "default" / "results" / "failures").glob("*.json"))
    assert len(failures) == 1
    record = json.loads(failures[0].read_text())
    assert record["error_type"] == "RecipeError" and "['999']" in record["error"]
    assert "dataset.subjects=[999]" in record["overrides"]
    assert record["config"]["dataset"]["subjects"] == ["999"]


def test_a_sweep_job_with_a_typo_is_refused_not_recorded(tmp_path, data_root):
    # `ts_lx` is a typo: that job is refused before loading data (one message, no failure
    # record), `ts_lr` still runs, and the sweep exits with status 2.
    proc = _sweep(["model.name=ts_lx,ts_lr", f"dataset={MUSE}"], tmp_path, data_root)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert (proc.stdout + proc.stderr).count("Did you mean 'ts_lr'") == 1
    rows = _rows(tmp_path)
    assert {r["model"] for r in rows} == {"ts_lr"}
    assert len(rows) == _n_subjects(data_root, MUSE)
    assert not (tmp_path / "runs" / "default" / "results" / "failures").exists()


def test_a_failing_single_run_exits_non_zero_with_the_reason(tmp_path, data_root):
    env = {**os.environ, "EEGBENCH_RUNS_DIR": str(tmp_path / "runs"),
           "EEGBENCH_CACHE_DIR": str(tmp_path / "cache"), "EEGBENCH_DATA_ROOT": str(data_root)}
    proc = subprocess.run([sys.executable, "-m", "eegbench", "model.name=ts_lx"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert (proc.stdout + proc.stderr).count("Did you mean 'ts_lr'") == 1
    assert "Traceback" not in proc.stderr
