"""A sweep through a real SLURM cluster (``hydra/launcher=slurm``, the submitit plugin).

Needs a running cluster (CI starts a single-node one with ``scripts/slurm_local_cluster.sh``);
skipped otherwise. One sweep (two models on the real Muse P300 recordings) writes into one
results store; the deep model's job is cancelled with ``scancel`` after its first fold, the
sweep is submitted again, and every fold must then be stored exactly once, the rows written
before the cancellation unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
MUSE = "muse_visual_p300_eegnotebooks"
SWEEP = ["-m", "model=ts_lr,eegnet", f"dataset={MUSE}", "trainer.max_epochs=3",
         "hydra/launcher=slurm", "hydra.launcher.partition=debug",
         "hydra.launcher.gpus_per_node=0", "hydra.launcher.cpus_per_task=1",
         "hydra.launcher.mem_gb=2", "hydra.launcher.timeout_min=15"]


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return False
    proc = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                          timeout=30)
    return proc.returncode == 0 and any(s.strip() in {"idle", "mixed", "allocated"}
                                        for s in proc.stdout.split())


def _rows(rows_dir: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(rows_dir.glob("[!.]*.json"))}


def _job_running(job: str) -> bool:
    out = subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"], capture_output=True,
                         text=True, timeout=30).stdout.strip()
    return out not in ("", "COMPLETED", "CANCELLED")


def _job_of(sweep_root: Path, marker: str) -> str | None:
    """The SLURM job id whose submitit log mentions ``marker``."""
    for log in sorted(sweep_root.glob("**/.submitit/*/*_log.*")):
        if marker in log.read_text(errors="replace"):
            return log.parent.name
    return None


def test_sweep_cancel_resubmit_no_lost_or_duplicated_row(tmp_path, data_root):
    if not _cluster_up():
        pytest.skip("no SLURM cluster (start one with scripts/slurm_local_cluster.sh)")
    n_subjects = len([p for p in (data_root / MUSE).glob("subject*") if p.is_dir()])
    env = {**os.environ, "EEGBENCH_RUNS_DIR": str(tmp_path / "runs"),
           "EEGBENCH_CACHE_DIR": str(tmp_path / "cache"), "EEGBENCH_DATA_ROOT": str(data_root),
           "OMP_NUM_THREADS": "1"}
    rows_dir = tmp_path / "runs" / "default" / "results" / "rows"
    command = [sys.executable, "-m", "eegbench", *SWEEP]
    t0 = time.monotonic()
    driver = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        job = None
        while time.monotonic() - t0 < 300:  # first eegnet fold stored: cancel its job
            deep = [r for r in _rows(rows_dir).values() if r["model"] == "eegnet"] \
                if rows_dir.is_dir() else []
            if deep:
                job = _job_of(tmp_path / "runs", "[eegnet seed 0]")
                break
            assert driver.poll() is None, "the sweep ended before any eegnet fold was stored"
            time.sleep(0.5)
        assert job is not None, "no eegnet row (or no submitit log) within 300 s"
        subprocess.run(["scancel", job], check=True, timeout=30)
        while _job_running(job):
            time.sleep(0.5)
    finally:  # the launcher would wait for the cancelled job: stop it, as a user would
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGTERM)
            try:
                driver.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(driver.pid, signal.SIGKILL)
                driver.wait()
    before = _rows(rows_dir)
    deep_before = {k: v for k, v in before.items() if v["model"] == "eegnet"}
    assert 1 <= len(deep_before) < n_subjects, (
        f"the cancel did not interrupt the job mid-run ({len(deep_before)} of {n_subjects} "
        "eegnet folds stored)")
    raw_before = {k: (rows_dir / k).read_bytes() for k in deep_before}

    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = _rows(rows_dir)
    assert len(after) == 2 * n_subjects
    identities = [(r["model"], r["fold"], r["seed"]) for r in after.values()]
    assert len(set(identities)) == len(identities)  # no duplicated fold
    assert {r["model"] for r in after.values()} == {"ts_lr", "eegnet"}
    for name, blob in raw_before.items():  # rows of the cancelled job kept, not recomputed
        assert (rows_dir / name).read_bytes() == blob
