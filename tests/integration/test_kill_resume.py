"""kill -9 at any moment, re-run the same command: no lost and no duplicated rows.

Real subprocesses on the real eegmat recordings, killed once while the cache is being built
and once while folds are being written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ARGS = ["model=ts_lr", "dataset.subjects=[00,01,02,03,04,05,06,07]"]


def _env(runs: Path, cache: Path, data_root: Path) -> dict[str, str]:
    return {**os.environ, "EEGBENCH_RUNS_DIR": str(runs), "EEGBENCH_CACHE_DIR": str(cache),
            "EEGBENCH_DATA_ROOT": str(data_root), "PYTHONUNBUFFERED": "1"}


def _start(env):
    return subprocess.Popen([sys.executable, "-m", "eegbench", *ARGS], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill_when(proc, condition, timeout=300.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        if proc.poll() is not None:
            raise AssertionError(f"process ended before it could be killed: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("condition never met")


def _rows(runs: Path) -> list[dict]:
    rows_dir = runs / "default" / "results" / "rows"  # the store of runs without +exp
    return [json.loads(p.read_text()) for p in sorted(rows_dir.glob("*.json"))
            if not p.name.startswith(".")]


@pytest.mark.slow
def test_kill_during_cache_build_and_during_folds_then_resume(tmp_path, data_root):
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    env = _env(runs, cache, data_root)

    # 1. killed while standardizing the recordings: a temporary build folder exists
    proc = _start(env)
    _kill_when(proc, lambda: any(cache.glob("physionet_eegmat/.*/part00002.npy")))
    entries = [p for p in (cache / "physionet_eegmat").iterdir() if p.is_dir()]
    assert entries and all(p.name.startswith(".") for p in entries), "no complete entry expected"

    # 2. restarted, killed again once some folds are stored
    proc = _start(env)
    rows_dir = runs / "default" / "results" / "rows"
    _kill_when(proc, lambda: rows_dir.is_dir() and len(list(rows_dir.glob("[!.]*.json"))) >= 3)
    n_before = len(_rows(runs))
    assert 3 <= n_before < 8

    # 3. the same command finishes the remaining work
    done = subprocess.run([sys.executable, "-m", "eegbench", *ARGS], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{8 - n_before} new fold(s), {n_before} skipped" in done.stdout + done.stderr
    rows = _rows(runs)
    assert sorted(r["test_subject"] for r in rows) == [f"{i:02d}" for i in range(8)]
    assert len({(r["fold"], r["seed"], r["config_hash"]) for r in rows}) == 8
    # the interrupted build's leftovers are gone and the entry is complete and valid
    entries = [p for p in (cache / "physionet_eegmat").iterdir() if p.is_dir()]
    assert len(entries) == 1 and not entries[0].name.startswith(".")
    manifest = json.loads((entries[0] / "manifest.json").read_text())
    X = np.load(entries[0] / "X.npy", mmap_mode="r")
    assert X.shape[0] == manifest["n_windows"] == sum(r["n_test"] for r in rows)
