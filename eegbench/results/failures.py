"""Failure records: a job that raises (bad dataset, OOM, ...) is written down, not lost.

In a sweep, one failing job must not kill the others. The Hydra entry point catches the
exception, writes ``<results_dir>/failures/<config-hash>.json`` with the overrides, the
resolved config and the traceback, and lets the sweep go on. A later successful run of the
same configuration removes the record.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import traceback
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def failures_dir(results_dir: str | os.PathLike) -> Path:
    """Return the folder of failure records inside a results store."""
    return Path(results_dir) / "failures"


def record_failure(results_dir: str | os.PathLike, config_hash: str, overrides: list[str],
                   config: dict[str, Any], error: BaseException) -> Path:
    """Write (atomically) the failure record of one job and return its path."""
    folder = failures_dir(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "config_hash": config_hash,
        "overrides": overrides,
        "error_type": type(error).__name__,
        "error": str(error),
        "traceback": "".join(traceback.format_exception(error)),
        "config": config,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    target = folder / f"{config_hash}.json"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".partial", dir=folder)
    with os.fdopen(fd, "w") as fh:
        json.dump(record, fh, indent=1, default=str)
    os.replace(tmp, target)
    return target


def clear_failure(results_dir: str | os.PathLike, config_hash: str) -> None:
    """Remove the failure record of a configuration that has now succeeded."""
    path = failures_dir(results_dir) / f"{config_hash}.json"
    if path.exists():
        path.unlink()


def read_failures(results_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Return every failure record of a results store."""
    folder = failures_dir(results_dir)
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob("[!.]*.json"))]
