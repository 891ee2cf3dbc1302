"""The alignment page shows the table that benchmarks/alignment_summary.py prints from the
committed rows (so the page cannot drift from the rows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_alignment_page_table_is_the_summary_of_the_committed_rows():
    printed = subprocess.run([sys.executable, "benchmarks/alignment_summary.py"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
    lines = [line for line in printed.splitlines() if line.startswith("|")]
    assert len(lines) > 2 and "Holm p" in lines[0]
    page = (REPO / "docs" / "concepts" / "alignment.md").read_text()
    assert "\n".join(lines) in page
