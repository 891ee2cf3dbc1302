"""Print the verdict at the end of a sweep: the Hydra callback of ``+exp=loso``.

Each job of the sweep (one model, or one share of a model's folds) runs in its own process
under the launcher; when a job ends, :class:`SuiteVerdict` writes the keys of the rows it
returned (new and previously stored: a re-run that skips finished folds reports them too)
to ``suite_job.json`` in the job's output folder. When the whole sweep has ended, in the
process that launched it, the callback reads those rows back from the results store and
prints :func:`eegbench.leaderboard.verdict.format_verdict`. Only the rows of this command's
jobs enter the table, so other experiments in the same store never change it.

Enable it in an experiment config::

    hydra:
      callbacks:
        verdict:
          _target_: eegbench.cli.verdict.SuiteVerdict
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from eegbench.results.row import row_key

logger = logging.getLogger(__name__)

#: File a finished job leaves in its output folder for the verdict.
JOB_RECORD = "suite_job.json"


def job_record(config: DictConfig, job_return: JobReturn) -> dict[str, Any]:
    """Describe a finished job: its overrides, results store and the keys of its rows."""
    rows = job_return.return_value if job_return.status == JobStatus.COMPLETED else None
    keys = sorted({row_key(r) for r in rows}) if isinstance(rows, list) else []
    return {"job": " ".join(config.hydra.overrides.task),
            "results_dir": str(Path(config.paths.results_dir).resolve()),
            "model": str(config.model.name), "keys": keys,
            "status": "completed" if keys else "no rows"}


def read_job_records(sweep_dir: Path) -> list[dict[str, Any]]:
    """Return the records the jobs of a sweep left under ``sweep_dir`` (job order)."""
    records = []
    for path in sorted(Path(sweep_dir).glob(f"*/{JOB_RECORD}")):
        try:
            records.append(json.loads(path.read_text()))
        except (OSError, ValueError) as err:
            logger.warning("unreadable job record %s (%s): left out of the verdict", path, err)
    return records


def verdict_text(records: list[dict[str, Any]]) -> str:
    """Return the verdict of the rows named by ``records`` (read from their stores)."""
    from eegbench.leaderboard.verdict import format_verdict
    from eegbench.results.store import ResultStore, rows_frame

    wanted: dict[str, set[str]] = {}
    for record in records:
        wanted.setdefault(record["results_dir"], set()).update(record.get("keys", []))
    rows = []
    for results_dir, keys in wanted.items():
        rows += [r for r in ResultStore(results_dir).read_rows() if row_key(r) in keys]
    missing = [r["job"] for r in records if not r.get("keys")]
    return format_verdict(rows_frame(rows), missing=missing)


class SuiteVerdict(Callback):
    """Hydra callback: record each job's rows, print the verdict when the sweep ends."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Remove job records an earlier sweep left in the same sweep folder."""
        for stale in Path(config.hydra.sweep.dir).glob(f"*/{JOB_RECORD}"):
            stale.unlink()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Write the job's record (runs in the job's process)."""
        out = Path(config.hydra.runtime.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / JOB_RECORD).write_text(json.dumps(job_record(config, job_return), indent=1))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Print the verdict of every job of the sweep (runs in the launching process)."""
        records = read_job_records(Path(config.hydra.sweep.dir))
        if not records:
            logger.warning("no job of this sweep left a record in %s: no verdict",
                           config.hydra.sweep.dir)
            return
        text = verdict_text(records)
        print("\n" + text, flush=True)  # the command's answer (CLI output)
        (Path(config.hydra.sweep.dir) / "verdict.md").write_text(text)
        logger.info("verdict written to %s", Path(config.hydra.sweep.dir) / "verdict.md")
