"""Published figures for our datasets (``published.yaml``), verified against their sources.

Every entry names its paper, the table or figure, the split and the metric, the url of the
document the figure was read in, and whether it was verified there (``verified`` + ``how``).
A figure is placed next to one of our tables only when the split is the same: same dataset,
``fixed_split`` protocol and the same test subjects (:func:`matching`); every entry, on any
split, is listed by :func:`references_lines` (``leaderboard/deviations.md``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

PUBLISHED_FILE = Path(__file__).with_name("published.yaml")
#: Keys every entry must have.
REQUIRED = ("dataset", "protocol", "test_subjects", "split", "model", "adaptation", "metric",
            "value", "paper", "table", "url", "verified", "how")
#: Protocols of published entries: our fixed split, or another split of the paper's own.
PROTOCOLS = ("fixed_split", "own_split")


def check_entry(entry: dict[str, Any], where: str) -> None:
    """Check one published entry.

    Raises
    ------
    ValueError
        If a required key is missing or empty, ``verified`` is not a boolean, the value is
        not a fraction in [0, 1], the protocol is unknown, or a ``fixed_split`` entry does
        not list its test subjects.
    """
    missing = [k for k in REQUIRED if k not in entry]
    empty = [k for k in REQUIRED if k in entry and k not in ("test_subjects", "verified")
             and not str(entry[k]).strip()]
    if missing or empty:
        raise ValueError(f"{where} ({entry.get('model')!r}) lacks {missing + empty}.")
    if not isinstance(entry["verified"], bool):
        raise ValueError(f"{where}: 'verified' must be true or false, got {entry['verified']!r}.")
    if entry["protocol"] not in PROTOCOLS:
        raise ValueError(f"{where}: protocol must be one of {list(PROTOCOLS)}, got "
                         f"{entry['protocol']!r}.")
    if entry["protocol"] == "fixed_split" and not entry["test_subjects"]:
        raise ValueError(f"{where}: a fixed_split entry must list its test_subjects.")
    if not 0.0 <= float(entry["value"]) <= 1.0:
        raise ValueError(f"{where}: value must be a fraction in [0, 1], got {entry['value']!r}.")


@cache
def load_published(path: Path = PUBLISHED_FILE) -> tuple[dict[str, Any], ...]:
    """Read and check the published figures (:func:`check_entry`).

    Each entry also gets ``source`` (paper and table, one line) and ``checked`` (= ``verified``)
    for the tables that print them.
    """
    entries = yaml.safe_load(Path(path).read_text()) or []
    for i, entry in enumerate(entries):
        check_entry(entry, f"{path}: entry {i}")
        if entry["test_subjects"] is not None:
            entry["test_subjects"] = [str(s) for s in entry["test_subjects"]]
        entry["source"] = f"{entry['paper']}; {entry['table']}"
        entry["checked"] = entry["verified"]
    return tuple(entries)


def matching(dataset: str, protocol: str, test_subject: str,
             entries: tuple[dict[str, Any], ...] | None = None,
             model: str | None = None) -> list[dict[str, Any]]:
    """Return the published figures for a table with these test subjects (comma-joined).

    With ``model``, only the figures of that model (entry ``model_key``) are returned.
    """
    tested = sorted(str(test_subject).split(","))
    return [e for e in (load_published() if entries is None else entries)
            if e["dataset"] == dataset and e["protocol"] == protocol
            and e["test_subjects"] is not None and sorted(e["test_subjects"]) == tested
            and (model is None or e.get("model_key") == model)]


def published_lines(frame: pd.DataFrame, key: tuple) -> list[str]:
    """Markdown lines listing the published figures that match one table (``key`` = block)."""
    dataset, _, protocol, _ = key
    block = frame[(frame["dataset"] == dataset) & (frame["protocol"] == protocol)]
    subjects = sorted(set(block["test_subject"].astype(str)))
    lines = []
    for subject in subjects:
        for e in matching(dataset, protocol, subject):
            spread = f" ± {e['std']:.4f} ({e.get('spread', 'std')})" if e.get("std") else ""
            flag = "" if e.get("verified") else " [not verified against the source]"
            lines.append(f"- published, same split (test subjects {subject}): {e['model']}: "
                         f"{e['metric'].replace('_', ' ')} {e['value']:.4f}{spread}; "
                         f"source: {e['source']}{flag}")
    return lines


def references_lines(dataset: str,
                     entries: tuple[dict[str, Any], ...] | None = None) -> list[str]:
    """Markdown table of every published figure for ``dataset``, verified ones first."""
    rows = [e for e in (load_published() if entries is None else entries)
            if e["dataset"] == dataset]
    if not rows:
        return []
    rows.sort(key=lambda e: (not e["verified"], e["paper"], e["metric"], e["model"]))
    lines = ["| model | adaptation | metric | value | as printed | split | paper, table "
             "| verified | how |", "|---|---|---|---|---|---|---|---|---|"]
    for e in rows:
        spread = f" ± {e['std']:.4f}" if e.get("std") is not None else ""
        cells = [e["model"], e["adaptation"], e["metric"].replace("_", " "),
                 f"{float(e['value']):.4f}{spread}", e.get("reported", ""), e["split"],
                 f"[{e['paper']}; {e['table']}]({e['url']})",
                 "yes" if e["verified"] else "**no**", e["how"]]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return lines
