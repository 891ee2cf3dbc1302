"""Result rows shipped with the repository: one JSONL file, one row per line.

The committed leaderboard tables are rebuilt from ``leaderboard/rows.jsonl`` (no model runs):
compact, versioned (each row carries its ``schema_version``) and diff-friendly (rows sorted by
their key, keys sorted within a row). The leaderboard reads a JSONL file wherever it reads a
results store folder, so a user's store and the shipped rows can be combined.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from eegbench.results.row import ResultRow, row_key
from eegbench.results.store import ResultStore, StoreNotFoundError, parse_row, rows_frame

logger = logging.getLogger(__name__)


class ShippedRowsError(ValueError):
    """A shipped rows file holds a damaged line."""


def row_identity(row: dict[str, Any]) -> str:
    """Return a row's key (the store's file name) from its identity fields."""
    return row_key({k: row.get(k) for k in ResultRow.key_fields})


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> int:
    """Write ``rows`` to ``path`` sorted by key, one compact JSON object per line; return n."""
    ordered = sorted(rows, key=row_identity)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True, separators=(",", ":"), default=str)
                           + "\n" for r in ordered))
    tmp.replace(path)
    return len(ordered)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Return the rows of a shipped JSONL file (older schemas get the newer fields' defaults).

    Raises
    ------
    ShippedRowsError
        Naming the file and line of a damaged row (a shipped file is never edited silently).
    """
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        row, problem = parse_row(line, f"{path}:{number}")
        if problem is not None:
            raise ShippedRowsError(f"{path}, line {number}: {problem}.")
        rows.append(row)
    return rows


def read_sources(sources: Sequence[Path] | Path) -> list[dict[str, Any]]:
    """Return the rows of every source: results store folders and ``.jsonl`` files.

    A row present in several sources (same key) is kept once; differing duplicates are an
    error, since the same fold cannot have two results.

    Raises
    ------
    StoreNotFoundError
        If a source is neither a ``.jsonl`` file nor a results store folder (nothing is
        created there).
    """
    sources = [sources] if isinstance(sources, str | Path) else list(sources)
    by_key: dict[str, dict[str, Any]] = {}
    for source in sources:
        source = Path(source)
        if source.suffix == ".jsonl":
            if not source.is_file():
                raise StoreNotFoundError(f"Shipped rows file {source} does not exist.")
            rows = read_jsonl(source)
        else:
            rows = ResultStore(source, create=False).read_rows()
        for row in rows:
            key = row_identity(row)
            if key in by_key and by_key[key]["metrics"] != row["metrics"]:
                raise ShippedRowsError(f"Row {key} ({row['model']}, {row['dataset']}, fold "
                                       f"{row['fold']}) differs between the sources {sources}.")
            by_key.setdefault(key, row)
    return [by_key[k] for k in sorted(by_key)]


def load_frame(sources: Sequence[Path] | Path) -> pd.DataFrame:
    """Return the rows of every source as the leaderboard's flat frame."""
    return rows_frame(read_sources(sources))
