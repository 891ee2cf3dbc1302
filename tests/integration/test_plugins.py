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


@pytest.mark.slow
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
    rows = [json.loads(p.read_text()) for p in (runs / "default" / "results").rglob("*.json")]
    assert len(rows) == 4  # one per LOSO fold
    assert {r["model"] for r in rows} == {"dummy_plugin"}
    assert all(r["n_parameters"] > 0 for r in rows)
    assert {r["code_fingerprint"].split(" src:")[0] for r in rows} == {
        "eegbench-dummy-plugin 0.0.1"}
    # the leaderboard marks the third-party model with its distribution and version
    from eegbench.leaderboard.report import build

    store = runs / "default" / "results"  # runs without +exp
    paths = build(store, tmp_path / "board", "plugin", plots=False)
    text = paths["md"].read_text()
    assert "dummy_plugin [third-party: eegbench-dummy-plugin 0.0.1]" in text
    assert "[third-party: eegbench-dummy-plugin 0.0.1] [third-party" not in text  # once
    # ... and the plugin's store merges with the shipped rows into one eegmat table, which
    # says that the plugin was tested on 4 of the 36 subjects (paired tests on those 4)
    merged = build([REPO / "leaderboard" / "rows.jsonl", store], tmp_path / "board",
                   "merged", protocols=["loso"], datasets=["physionet_eegmat"], plots=False)
    table = merged["md"].read_text()
    assert "dummy_plugin [third-party" in table and "| fb_ts_lr |" in table
    assert "tested on different subject sets (sizes [4, 36])" in table
    # unknown names get close matches, plugin included
    check = subprocess.run(
        [sys.executable, "-c", "from eegbench.models import build_model; "
                               "build_model('dummy_plugn')"],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "Did you mean 'dummy_plugin'" in check.stderr


PLUGIN_PYPROJECT = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "eegbench-two-plugins"
version = "1.2.3"

[project.entry-points."eegbench.models"]
broken_plugin = "two_plugins.broken:Model"
eegnex_plugin = "two_plugins.eegnex:EEGNeXModel"

[tool.setuptools]
packages = ["two_plugins"]
"""

EEGNEX_PLUGIN = '''from braindecode.models import EEGNeX  # plain braindecode import

from eegbench.models.deep import BraindecodeEncoder
from eegbench.models.torch_model import TorchBenchmarkModel


class EEGNeXModel(TorchBenchmarkModel):
    def build_encoder(self, signal, adapter):
        return BraindecodeEncoder(EEGNeX(n_chans=len(adapter.out_ch_names),
                                         n_outputs=signal.n_outputs, n_times=adapter.out_times,
                                         sfreq=adapter.out_sfreq))
'''


@pytest.mark.slow
def test_a_broken_plugin_is_named_and_the_others_still_work(tmp_path, data_root, cache_root):
    pkg = tmp_path / "src"
    (pkg / "two_plugins").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(PLUGIN_PYPROJECT)
    (pkg / "two_plugins" / "__init__.py").write_text("")
    (pkg / "two_plugins" / "broken.py").write_text("import not_a_module_anywhere\n")
    (pkg / "two_plugins" / "eegnex.py").write_text(EEGNEX_PLUGIN)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target), str(pkg)],
                   check=True, cwd=tmp_path, capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)]),
           "OMP_NUM_THREADS": "1"}
    check = subprocess.run(
        [sys.executable, "-c", "from eegbench.models import build_model; "
                               "print(type(build_model('ts_lr')).__name__); "
                               "build_model('broken_plugin')"],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert check.stdout.strip() == "SklearnModel"  # built-ins unaffected
    assert "The model plugin 'broken_plugin' is installed but could not be loaded: entry " \
           "point two_plugins.broken:Model (eegbench-two-plugins 1.2.3) failed to import: " \
           "ModuleNotFoundError: No module named 'not_a_module_anywhere'" in check.stderr

    # the braindecode-importing plugin runs from the command line without a yaml of its own
    runs = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "eegbench", "model=plugin", "model.name=eegnex_plugin",
         "trainer=fast", "trainer.max_epochs=1", "dataset.subjects=[00,01,02,03]",
         "protocol.n_valid_subjects=1", f"paths.data_root={data_root}",
         f"paths.cache_dir={cache_root}", f"paths.runs_dir={runs}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # plugins are imported on first use: a run of another model never imports the broken one
    assert "not_a_module_anywhere" not in proc.stdout + proc.stderr
    rows = [json.loads(p.read_text()) for p in (runs / "default" / "results").rglob("*.json")]
    assert len(rows) == 4 and {r["model"] for r in rows} == {"eegnex_plugin"}


@pytest.mark.slow  # about 45 s of CPU: two cells under the suite's own trainer
def test_a_plugin_model_runs_suite_cells_and_enters_the_scorecard(tmp_path, data_root,
                                                                  cache_root):
    """``eegbench +suite=... model=<plugin>``: the plugin's rows carry the suite and score
    against the cell's baselines in the scorecard (two cells, the suite's own trainer)."""
    from eegbench.leaderboard.scorecard import build_scorecard
    from eegbench.leaderboard.scorecard_render import committed_suite_rows
    from eegbench.leaderboard.suite_spec import load_suite
    from eegbench.results.shipped import read_sources

    target = tmp_path / "site"
    source = shutil.copytree(REPO / "tests" / "plugin_pkg", tmp_path / "plugin_pkg")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target),
                    str(source)], check=True, cwd=tmp_path, capture_output=True)
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)]),
           "OMP_NUM_THREADS": "1", "EEGBENCH_RUNS_DIR": str(runs)}
    cells = ["meg_within_subject", "n170_within_run"]
    cmd = [sys.executable, "-m", "eegbench", "+suite=eegbench-local-v1", "model=dummy_plugin",
           f"+suite_cells={','.join(cells)}", "trainer.num_threads=1",
           f"paths.data_root={data_root}", f"paths.cache_dir={cache_root}"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    store = runs / "eegbench-local-v1" / "results"
    rows = [r for r in (json.loads(p.read_text()) for p in store.rglob("*.json")
                        if p.parent.name != "failures") if "metrics" in r]
    assert {r["model"] for r in rows} == {"dummy_plugin"}
    assert {r["suite"] for r in rows} == {"eegbench-local-v1@1.0.0"}
    assert {r["dataset"] for r in rows} == {"meg_elekta_3ch", "muse_n170_eegnotebooks"}
    assert {r["code_fingerprint"].split(" src:")[0] for r in rows} == {
        "eegbench-dummy-plugin 0.0.1"}
    shipped = read_sources(committed_suite_rows(REPO / "leaderboard" / "scorecards",
                                                "eegbench-local-v1"))
    card = build_scorecard(load_suite("eegbench-local-v1"), [*shipped, *rows])
    mine = card.cells[card.cells["model"] == "dummy_plugin"]
    assert sorted(mine["cell"]) == sorted(cells)
    assert (mine["configuration"] == "dummy_plugin [third-party: eegbench-dummy-plugin 0.0.1]"
            ).all()
    assert mine["p_vs_best_baseline"].notna().all()  # paired with the baselines' subjects
    assert (~mine["is_baseline"]).all()
