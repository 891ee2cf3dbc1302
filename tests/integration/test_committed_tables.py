"""A fresh clone rebuilds every committed table from the shipped rows, byte for byte."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_committed_tables_rebuild_identically_from_shipped_rows(tmp_path):
    committed = REPO / "leaderboard"
    spec = yaml.safe_load((committed / "plan.yaml").read_text())["committed"]
    work = tmp_path / "clone"
    (work / "leaderboard").mkdir(parents=True)
    for name in ("plan.yaml", spec["rows"]):
        shutil.copy(committed / name, work / "leaderboard" / name)
    subprocess.run([sys.executable, "-m", "eegbench.leaderboard", "--committed"], cwd=work,
                   check=True, capture_output=True, env={"PYTHONPATH": str(REPO),
                                                         "OMP_NUM_THREADS": "1",
                                                         "PATH": "/usr/bin:/bin"})
    for table in spec["tables"]:
        for suffix in (".md", ".csv", "_per_subject.csv", ".html"):
            name = f"{table['name']}{suffix}"
            assert (work / "leaderboard" / name).read_bytes() == (committed / name).read_bytes(), \
                name
