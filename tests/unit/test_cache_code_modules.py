"""The window cache key covers the standardization code it imports, found, not hand-listed.

A copy of the package is edited (a module renamed, a new module imported by the
standardization) and fingerprinted in a fresh interpreter: the renamed and the new module are
part of the key and change it, and modules that make no windows stay out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import eegbench
from eegbench.data import cache

PACKAGE = Path(eegbench.__file__).parent

_PROBE = ("import json; from eegbench.data import cache; "
          "print(json.dumps([sorted(cache.code_modules()), cache.code_fingerprint()]))")


def _probe(root: Path) -> tuple[list[str], str]:
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=root, env=env, check=True,
                         capture_output=True, text=True).stdout
    modules, digest = json.loads(out.strip().splitlines()[-1])
    return modules, digest


def _copy_package(tmp_path: Path) -> Path:
    shutil.copytree(PACKAGE, tmp_path / "eegbench",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return tmp_path / "eegbench"


def test_code_modules_are_the_data_modules_the_cache_imports():
    modules = cache.code_modules()
    assert "eegbench.data.standardize" in modules and "eegbench.data.preprocess.fused" in modules
    assert all(name.startswith("eegbench.data") for name in modules)
    # make no windows: the command line, the catalogue, fetching, pinning, the MOABB bridge
    for name in ("eegbench.data.__main__", "eegbench.data.catalog", "eegbench.data.fetch",
                 "eegbench.data.pin", "eegbench.data.bridges.moabb"):
        assert name not in modules
    # every module of eegbench.data the standardization imports is a file that exists
    assert all(path.is_file() for path in modules.values())


def test_a_renamed_and_a_new_module_change_the_key(tmp_path):
    copy = _copy_package(tmp_path)
    original_modules, original = _probe(tmp_path)
    assert original_modules == sorted(cache.code_modules())
    # rename data/units.py and point every import at the new name
    (copy / "data" / "units.py").rename(copy / "data" / "sensor_units.py")
    for path in copy.rglob("*.py"):
        text = path.read_text()
        if "eegbench.data.units" in text:
            path.write_text(text.replace("eegbench.data.units", "eegbench.data.sensor_units"))
    # a new step imported (inside a function) by the standardization
    (copy / "data" / "extra_step.py").write_text('"""A new step."""\n\nSCALE = 1.0\n')
    standardize = copy / "data" / "standardize.py"
    standardize.write_text(standardize.read_text().replace(
        "def check_sfreq(raw: mne.io.BaseRaw, recipe: Recipe, source: SourceFile) -> None:\n",
        "def check_sfreq(raw: mne.io.BaseRaw, recipe: Recipe, source: SourceFile) -> None:\n"
        "    from eegbench.data.extra_step import SCALE  # noqa: F401\n", 1))
    modules, renamed = _probe(tmp_path)
    assert "eegbench.data.sensor_units" in modules and "eegbench.data.units" not in modules
    assert "eegbench.data.extra_step" in modules
    assert renamed != original
    # a change to the new module's code changes the key; a docstring change does not
    (copy / "data" / "extra_step.py").write_text('"""Reworded."""\n\nSCALE = 1.0\n')
    assert _probe(tmp_path)[1] == renamed
    (copy / "data" / "extra_step.py").write_text('"""A new step."""\n\nSCALE = 2.0\n')
    assert _probe(tmp_path)[1] != renamed
