"""Alignment end to end on 4 real eegmat subjects: the job's rows and its refusals.

``protocol.align=riemannian_recentre protocol.align_reference=calibration`` re-centres ts_lr's
covariances on each subject's first 60 s and scores only the windows after it; a model without
covariance features is refused with the names of the supported ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SUBJECTS = ["00", "01", "02", "03"]


def _run(tmp_path: Path, data_root: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "EEGBENCH_RUNS_DIR": str(tmp_path / "runs"),
           "EEGBENCH_CACHE_DIR": str(tmp_path / "cache"), "EEGBENCH_DATA_ROOT": str(data_root),
           "OMP_NUM_THREADS": "1"}
    command = ["run", "dataset=physionet_eegmat", "protocol=loso", "experiment.name=align",
               f"dataset.subjects=[{','.join(SUBJECTS)}]", *overrides]
    return subprocess.run([sys.executable, "-m", "eegbench", *command], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)


def test_calibration_recentred_ts_lr_scores_only_windows_after_the_segment(
        tmp_path, data_root, eegmat):
    proc = _run(tmp_path, data_root, "model=ts_lr", "protocol.align=riemannian_recentre",
                "protocol.align_reference=calibration")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    rows = [json.loads(p.read_text()) for p in
            sorted((tmp_path / "runs" / "align" / "results" / "rows").glob("[!.]*.json"))]
    assert sorted(r["test_subject"] for r in rows) == SUBJECTS
    window_s = eegmat.X.shape[-1] / float(eegmat.info["sfreq"])
    n_calibration = int(60 // window_s)  # whole windows within the first 60 s of the rest run
    for row in rows:
        assert row["config"]["protocol"]["align"] == "riemannian_recentre"
        assert row["config"]["protocol"]["align_reference"] == "calibration"
        n_windows = int((eegmat.meta["subject"] == row["test_subject"]).sum())
        assert row["n_test"] == n_windows - n_calibration
        # the training subjects lose their calibration windows too
        n_other = int(eegmat.meta["subject"].isin(set(SUBJECTS) - {row["test_subject"]}).sum())
        assert row["n_train"] + row["n_valid"] == n_other - (len(SUBJECTS) - 1) * n_calibration
    scores = np.array([r["metrics"]["balanced_accuracy"] for r in rows])
    assert np.all((scores >= 0) & (scores <= 1))


def test_recentring_a_model_without_covariances_is_refused(tmp_path, data_root):
    proc = _run(tmp_path, data_root, "model=eegnet", "protocol.align=riemannian_recentre",
                "trainer.max_epochs=1")
    assert proc.returncode != 0
    assert "riemannian_recentre" in proc.stderr and "ts_lr" in proc.stderr, proc.stderr[-3000:]
