"""scripts/install_offline.sh refuses a wheelhouse the interpreter cannot use, before pip runs.

The wheelhouse itself (scripts/wheelhouse.sh) needs a package index; building one and
installing from it in a fresh environment is the documented run in README.md (Performance).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "install_offline.sh"
HERE = "{}.{}".format(*sys.version_info[:2])


def _run(wheelhouse: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), str(wheelhouse), *args], capture_output=True,
                          text=True, env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
                          timeout=60)


def _manifest(tmp_path: Path, **fields) -> Path:
    base = {"python_version": HERE, "excluded": [], "target_must_provide": {},
            "eegbench_extras": [], "no_deps": [], "packages": []}
    (tmp_path / "wheelhouse.json").write_text(json.dumps({**base, **fields}))
    return tmp_path


def test_refuses_a_folder_without_manifest(tmp_path):
    proc = _run(tmp_path)
    assert proc.returncode == 2
    assert "built by" in proc.stderr and str(tmp_path) in proc.stderr


def test_refuses_another_python_version(tmp_path):
    proc = _run(_manifest(tmp_path, python_version="3.99"))
    assert proc.returncode != 0
    assert "built for Python 3.99" in proc.stderr and f"is Python {HERE}" in proc.stderr


def test_lists_every_missing_or_mismatched_package(tmp_path):
    import numpy

    wh = _manifest(tmp_path, target_must_provide={
        "numpy": ["<0.1"], "surely-not-installed-pkg": [">=1"]})
    proc = _run(wh)
    assert proc.returncode != 0
    assert f"numpy {numpy.__version__} is installed, but <0.1 is required" in proc.stderr
    assert "surely-not-installed-pkg (>=1) is not installed" in proc.stderr


def test_use_target_versions_turns_a_mismatch_into_a_warning(tmp_path):
    wh = _manifest(tmp_path, target_must_provide={"numpy": ["<0.1"]})
    proc = _run(wh, "--use-target-versions")
    assert "WARNING (--use-target-versions): numpy" in proc.stdout
    assert "does not provide" not in proc.stderr  # past the check (pip then finds no wheels)
