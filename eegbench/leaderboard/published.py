"""Published figures on fixed subject splits (``published.yaml``), shown beside our rows.

A published figure is placed next to a table only when the table's protocol is the same fixed
split: same dataset, ``fixed_split`` protocol and the same test subjects.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

PUBLISHED_FILE = Path(__file__).with_name("published.yaml")
REQUIRED = ("dataset", "protocol", "test_subjects", "model", "metric", "value", "source")


@cache
def load_published(path: Path = PUBLISHED_FILE) -> tuple[dict[str, Any], ...]:
    """Read the published figures; every entry must name its source.

    Raises
    ------
    ValueError
        If an entry lacks a required key.
    """
    entries = yaml.safe_load(Path(path).read_text()) or []
    for i, entry in enumerate(entries):
        missing = [k for k in REQUIRED if k not in entry]
        if missing:
            raise ValueError(f"{path}: entry {i} ({entry.get('model')!r}) lacks {missing}.")
        entry["test_subjects"] = [str(s) for s in entry["test_subjects"]]
    return tuple(entries)


def matching(dataset: str, protocol: str, test_subject: str,
             entries: tuple[dict[str, Any], ...] | None = None) -> list[dict[str, Any]]:
    """Return the published figures for a table with these test subjects (comma-joined)."""
    tested = sorted(str(test_subject).split(","))
    return [e for e in (load_published() if entries is None else entries)
            if e["dataset"] == dataset and e["protocol"] == protocol
            and sorted(e["test_subjects"]) == tested]


def published_lines(frame: pd.DataFrame, key: tuple) -> list[str]:
    """Markdown lines listing the published figures that match one table (``key`` = block)."""
    dataset, _, protocol, _ = key
    block = frame[(frame["dataset"] == dataset) & (frame["protocol"] == protocol)]
    subjects = sorted(set(block["test_subject"].astype(str)))
    lines = []
    for subject in subjects:
        for e in matching(dataset, protocol, subject):
            spread = f" ± {e['std']:.4f} ({e.get('spread', 'std')})" if e.get("std") else ""
            flag = "" if e.get("checked") else " [transcribed, not re-checked against the source]"
            lines.append(f"- published, same split (test subjects {subject}): {e['model']}: "
                         f"{e['metric'].replace('_', ' ')} {e['value']:.4f}{spread}; "
                         f"source: {e['source']}{flag}")
    return lines
