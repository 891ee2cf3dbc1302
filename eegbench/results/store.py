"""Append-only results store: one JSON file per result row, written atomically.

Each row is written to a temporary file and renamed to ``<key>.json``; a rename is atomic on
POSIX, so readers never see a partial row, several processes can write at once without a
lock, and a killed run leaves either a complete row or none. A re-run asks :meth:`has`
before computing a fold and skips it when the row exists.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from eegbench.results.schema import FIELD_DEFAULTS_LATER, SCHEMA_VERSION, ResultRow

logger = logging.getLogger(__name__)


class ResultStore:
    """A folder of result rows.

    Parameters
    ----------
    root : path
        Folder of the store (created if missing).
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.rows_dir = self.root / "rows"
        self.rows_dir.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.rows_dir / f"{key}.json"

    def has(self, key: str) -> bool:
        """Return True if the row with ``key`` is already stored."""
        return self._path(key).is_file()

    def write(self, row: ResultRow) -> Path:
        """Store ``row`` atomically; an existing row with the same key is left untouched.

        Returns
        -------
        Path
            The row's file.
        """
        target = self._path(row.key())
        if target.exists():
            logger.info("row %s already stored; not overwriting", target.name)
            return target
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".partial", dir=self.rows_dir)
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(row.to_dict(), fh, indent=1, sort_keys=True, default=str)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return target

    def read_rows(self) -> list[dict[str, Any]]:
        """Return every stored row as a dict (sorted by file name, i.e. by key).

        Rows written by an older schema get the newer fields' defaults; a row from a newer
        schema is an error (this eegbench cannot know what its fields mean).
        """
        rows = []
        for path in sorted(self.rows_dir.glob("[!.]*.json")):
            row = json.loads(path.read_text())
            if row.get("schema_version", 0) > SCHEMA_VERSION:
                raise ValueError(f"{path}: schema version {row['schema_version']} is newer than "
                                 f"this eegbench ({SCHEMA_VERSION}); upgrade eegbench.")
            for name, default in FIELD_DEFAULTS_LATER.items():
                row.setdefault(name, default)
            rows.append(row)
        return rows

    def to_frame(self) -> pd.DataFrame:
        """Return the rows as a flat DataFrame (metrics as ``metric.<name>`` columns)."""
        rows = self.read_rows()
        if not rows:
            return pd.DataFrame()
        flat = []
        for row in rows:
            metrics = row.pop("metrics")
            row.update({f"metric.{k}": v for k, v in metrics.items()})
            flat.append(row)
        return pd.DataFrame(flat)

    def __len__(self) -> int:
        return sum(1 for _ in self.rows_dir.glob("[!.]*.json"))
