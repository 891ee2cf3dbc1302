"""Registry rules, and a third-party model package discovered through its entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from eegbench.registry import Registry, RegistryError

REPO = Path(__file__).resolve().parents[2]


def test_registry_rejects_duplicates_and_suggests_names():
    reg: Registry = Registry("model")
    reg.register("shallow_fbcsp", object())
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("shallow_fbcsp", object(), origin="entry point x")
    with pytest.raises(RegistryError, match="Did you mean 'shallow_fbcsp'"):
        reg.get("shalow_fbcsp")


def test_plugin_package_is_discovered_and_runs(tmp_path, data_root, cache_root):
    target = tmp_path / "site"
    source = shutil.copytree(REPO / "tests" / "plugin_pkg", tmp_path / "plugin_pkg")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target),
                    str(source)], check=True, cwd=tmp_path,
                   capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)]),
           "OMP_NUM_THREADS": "1"}
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "eegbench", "model=dummy_plugin", "trainer=fast",
           "dataset.subjects=[00,01,02,03]", "protocol.n_valid_subjects=1",
           f"paths.data_root={data_root}", f"paths.cache_dir={cache_root}",
           f"paths.runs_dir={runs}"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(p.read_text()) for p in (runs / "results").rglob("*.json")]
    assert len(rows) == 4  # one per LOSO fold
    assert {r["model"] for r in rows} == {"dummy_plugin"}
    assert all(r["n_parameters"] > 0 for r in rows)
    # unknown names get close matches, plugin included
    check = subprocess.run(
        [sys.executable, "-c", "from eegbench.models import build_model; "
                               "build_model('dummy_plugn')"],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "Did you mean 'dummy_plugin'" in check.stderr
