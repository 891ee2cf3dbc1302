"""Append-only results store: one JSON file per result row, written atomically.

Each row is written to a temporary file and renamed to ``<key>.json``; a rename is atomic on
POSIX, so readers never see a partial row, several processes can write at once without a
lock, and a killed run leaves either a complete row or none. A re-run asks :meth:`has`
before computing a fold and skips it when the row exists.

Rows are validated when read (:func:`row_problem`): a file that is empty, truncated, not
JSON, lacks a field of the schema, or whose metrics disagree with the predictions stored in
the same row (a hand-edited score; :mod:`eegbench.results.recompute`) is moved to
``<store>/quarantine/`` with a warning that names it, and is treated as absent, so its fold is
recomputed and the leaderboard is built from the valid rows. Row files are created readable
by the group (shared stores), whatever the ``mkstemp`` default.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd

from eegbench import atomic
from eegbench.results.recompute import metrics_problem
from eegbench.results.row import FIELD_DEFAULTS_LATER, SCHEMA_VERSION, ResultRow

logger = logging.getLogger(__name__)

#: Fields every stored row must have (those without a default in :class:`ResultRow`).
REQUIRED_FIELDS = tuple(f.name for f in fields(ResultRow)
                        if f.default is f.default_factory and f.name not in FIELD_DEFAULTS_LATER)


#: Mode of the files the store writes: the process's default, plus group read.
FILE_MODE = atomic.FILE_MODE

#: Rows are written with :func:`eegbench.atomic.write_json_atomic` (temp file, fsync, rename).
write_json_atomic = atomic.write_json_atomic


#: sha256 of row texts whose metrics were found consistent in this process (each shipped row
#: is read once per table built; checking it once is enough).
_CONSISTENT: set[bytes] = set()
_CONSISTENT_MAX = 1_000_000


def row_problem(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Read and validate one row file.

    Returns
    -------
    row : dict or None
        The row (older schemas get the newer fields' defaults), None when invalid.
    problem : str or None
        Why the file is not a valid row, None when it is.

    Raises
    ------
    ValueError
        If the row's schema is newer than this eegbench (not damage: upgrade eegbench).
    """
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        return None, f"unreadable ({type(err).__name__}: {err})"
    return parse_row(text, str(path))


def parse_row(text: str, where: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse and validate one row's JSON text (a row file, or a line of a shipped JSONL).

    See :func:`row_problem` for the returns; ``where`` names the source in errors.
    """
    if not text.strip():
        return None, "empty file"
    try:
        row = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"not valid JSON (truncated or garbled: {err})"
    if not isinstance(row, dict):
        return None, f"not a JSON object but {type(row).__name__}"
    version = row.get("schema_version", 0)
    if not isinstance(version, int):
        return None, f"schema_version is {version!r}, not an integer"
    if version > SCHEMA_VERSION:
        raise ValueError(f"{where}: schema version {version} is newer than this eegbench "
                         f"({SCHEMA_VERSION}); upgrade eegbench.")
    missing = [k for k in REQUIRED_FIELDS if k not in row]
    if missing:
        return None, f"lacks the field(s) {missing}"
    if not isinstance(row["metrics"], dict) or not all(
            isinstance(v, int | float) or v is None for v in row["metrics"].values()):
        return None, f"'metrics' is not a mapping of numbers: {str(row['metrics'])[:80]!r}"
    for name, default in FIELD_DEFAULTS_LATER.items():
        row.setdefault(name, default)
    digest = hashlib.sha256(text.encode()).digest()
    if digest not in _CONSISTENT:
        problem = metrics_problem(row)
        if problem is not None:
            return None, f"its metrics disagree with its own predictions: {problem}"
        if len(_CONSISTENT) >= _CONSISTENT_MAX:
            _CONSISTENT.clear()
        _CONSISTENT.add(digest)
    return row, None


def rows_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Return rows as a flat DataFrame (metrics as ``metric.<name>`` columns)."""
    if not rows:
        return pd.DataFrame()
    flat = []
    for row in rows:
        row = dict(row)
        metrics = row.pop("metrics")
        row.update({f"metric.{k}": v for k, v in metrics.items()})
        flat.append(row)
    return pd.DataFrame(flat)


class StoreNotFoundError(FileNotFoundError):
    """A folder read as a results store is not one."""


class ResultStore:
    """A folder of result rows.

    Parameters
    ----------
    root : path
        Folder of the store.
    create : bool
        Create the folder if missing (default). With False, a folder that is not a store
        is an error and nothing is created (reading an existing store).

    Raises
    ------
    StoreNotFoundError
        With ``create=False``, if ``root`` is not a results store folder.
    """

    def __init__(self, root: str | os.PathLike, create: bool = True) -> None:
        self.root = Path(root)
        self.rows_dir = self.root / "rows"
        self.quarantine_dir = self.root / "quarantine"
        if create:
            self.rows_dir.mkdir(parents=True, exist_ok=True)
        elif not self.rows_dir.is_dir():
            hint = (f" It holds no rows/ folder: a store is the folder that does (e.g. "
                    f"{self.root / 'results'}?)" if self.root.is_dir() else
                    " No such folder.")
            raise StoreNotFoundError(f"{self.root} is not a results store.{hint}")

    def check_writable(self) -> None:
        """Raise now if rows cannot be written (before any fold is computed).

        Raises
        ------
        PermissionError
            Naming the store folder, when it is not writable.
        """
        if not os.access(self.rows_dir, os.W_OK | os.X_OK):
            raise PermissionError(
                f"The results store {self.rows_dir} is not writable, so no result could be "
                "saved. Set paths.results_dir (or paths.runs_dir / EEGBENCH_RUNS_DIR) to a "
                "writable folder.")

    def _path(self, key: str) -> Path:
        return self.rows_dir / f"{key}.json"

    def quarantine(self, path: Path, problem: str) -> None:
        """Move a damaged row file out of the store (warning names it and the reason)."""
        target = self.quarantine_dir / path.name
        try:
            self.quarantine_dir.mkdir(exist_ok=True)
            os.replace(path, target)
            where = f"moved to {target}"
        except FileNotFoundError:  # another process quarantined it first
            return
        except OSError as err:  # read-only store: leave it, but never use it
            where = f"left in place ({type(err).__name__}: {err}) and ignored"
        logger.warning("result row %s is damaged (%s); %s. Its fold will be recomputed.",
                       path, problem, where)

    def has(self, key: str) -> bool:
        """Return True if a valid row with ``key`` is stored (a damaged one is quarantined)."""
        path = self._path(key)
        if not path.is_file():
            return False
        row, problem = row_problem(path)
        if problem is not None:
            self.quarantine(path, problem)
            return False
        return True

    def write(self, row: ResultRow) -> Path:
        """Store ``row`` atomically; an existing valid row with the same key is left untouched.

        Returns
        -------
        Path
            The row's file.
        """
        target = self._path(row.key())
        if self.has(row.key()):
            logger.info("row %s already stored; not overwriting", target.name)
            return target
        return write_json_atomic(target, row.to_dict(), indent=1, sort_keys=True, default=str)

    def read_rows(self) -> list[dict[str, Any]]:
        """Return every valid stored row as a dict (sorted by file name, i.e. by key).

        Rows written by an older schema get the newer fields' defaults; a damaged row is
        quarantined with a warning (see :func:`row_problem`); a row from a newer schema is
        an error (this eegbench cannot know what its fields mean).
        """
        rows = []
        for path in sorted(self.rows_dir.glob("[!.]*.json")):
            row, problem = row_problem(path)
            if problem is not None:
                self.quarantine(path, problem)
                continue
            rows.append(row)
        return rows

    def to_frame(self) -> pd.DataFrame:
        """Return the rows as a flat DataFrame (metrics as ``metric.<name>`` columns)."""
        return rows_frame(self.read_rows())

    def __len__(self) -> int:
        return sum(1 for _ in self.rows_dir.glob("[!.]*.json"))
