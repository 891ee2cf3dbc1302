"""Failure records: a job that raises (bad dataset, OOM, ...) is written down, not lost.

In a sweep, one failing job must not kill the others. The Hydra entry point catches the
exception, writes ``<results_dir>/failures/<config-hash>.json`` with the overrides, the
resolved config and the traceback, and lets the sweep go on. A later successful run of the
same configuration removes the record.

The seeds are not part of the configuration hash (they are a row field), so jobs of one
configuration with different seeds write separate records
(``<config-hash>-seeds-<seeds>.json``) and never overwrite each other. Records are readable
by the group, like the rows; a damaged record is skipped with a warning naming it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def failures_dir(results_dir: str | os.PathLike) -> Path:
    """Return the folder of failure records inside a results store."""
    return Path(results_dir) / "failures"


def record_name(config_hash: str, seeds: Sequence[Any] | None = None) -> str:
    """Return the file name of a job's failure record (config hash and seeds)."""
    if seeds is None:
        return f"{config_hash}.json"
    label = "_".join(str(s) for s in seeds)
    if len(label) > 40 or not all(c.isalnum() or c in "_-" for c in label):
        label = "h" + hashlib.sha256(label.encode()).hexdigest()[:12]
    return f"{config_hash}-seeds-{label}.json"


def record_failure(results_dir: str | os.PathLike, config_hash: str, overrides: list[str],
                   config: dict[str, Any], error: BaseException,
                   seeds: Sequence[Any] | None = None) -> Path:
    """Write (atomically) the failure record of one job and return its path.

    ``seeds`` (the job's seeds) are part of the file name, so the jobs of one configuration
    with different seeds keep separate records.
    """
    from eegbench.results.store import write_json_atomic

    folder = failures_dir(results_dir)
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "config_hash": config_hash,
        "seeds": None if seeds is None else list(seeds),
        "overrides": overrides,
        "error_type": type(error).__name__,
        "error": str(error),
        "traceback": "".join(traceback.format_exception(error)),
        "config": config,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return write_json_atomic(folder / record_name(config_hash, seeds), record, indent=1,
                             default=str)


def clear_failure(results_dir: str | os.PathLike, config_hash: str,
                  seeds: Sequence[Any] | None = None) -> None:
    """Remove the failure record of a configuration (and seeds) that has now succeeded."""
    path = failures_dir(results_dir) / record_name(config_hash, seeds)
    if path.exists():
        path.unlink()


def read_failures(results_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Return every failure record of a results store."""
    folder = failures_dir(results_dir)
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.glob("[!.]*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError) as err:
            logger.warning("failure record %s is unreadable (%s); skipped", path, err)
    return records
