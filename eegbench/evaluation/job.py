"""Orchestrate one job: dataset x model x protocol, over seeds and folds.

Each finished fold is written to the results store at once; a re-run of the same command
skips folds whose row exists, so an interrupted run resumes without losing or duplicating
results. The pieces: :mod:`~eegbench.evaluation.plan` (windows, protocol, model builder),
:mod:`~eegbench.evaluation.identity` (a row's key), :mod:`~eegbench.evaluation.fold` (fit and
score one fold), :mod:`~eegbench.evaluation.parallel` (folds trained together),
:mod:`~eegbench.evaluation.probes` (layer probes) and :mod:`~eegbench.evaluation.audit` (the
leakage audit).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.adaptation.calibration import BaseModelCache
from eegbench.config import Job, as_job
from eegbench.data.cache import check_subject_classes
from eegbench.data.quality import summarize as summarize_quality
from eegbench.evaluation.audit import run_audit
from eegbench.evaluation.fold import check_model_task, fit_and_score
from eegbench.evaluation.identity import identity_hash, row_fingerprints, row_key_of
from eegbench.evaluation.parallel import fit_folds_in_parallel
from eegbench.evaluation.plan import (
    adaptation_of,
    load_dataset,
    model_builder,
    protocol_plan,
)
from eegbench.evaluation.probes import probes_apply, probes_stored, write_probe_rows
from eegbench.metrics import LOGGED_METRIC
from eegbench.progress import fold_label
from eegbench.protocols.splitters import Fold
from eegbench.results.row import ResultRow
from eegbench.results.store import ResultStore

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class _SeedTally:
    """Folds of one seed: how many there are, are pending and are done (for the ETA)."""

    seed: int
    n_folds: int
    n_pending: int
    n_done: int = 0
    t0: float = dataclasses.field(default_factory=time.perf_counter)

    def eta(self) -> str:
        """Return the remaining time at the mean pace so far, as m:ss."""
        left = (time.perf_counter() - self.t0) / max(self.n_done, 1) * (
            self.n_pending - self.n_done)
        return f"{int(left // 60)}:{int(left % 60):02d}"


def parse_fold_shard(value: Any) -> tuple[int, int] | None:
    """Return ``(k, n)`` from a ``fold_shard`` setting ``[k, n]`` (None: every fold).

    A job with shard ``[k, n]`` runs folds ``k, k + n, k + 2n, ...`` (0-based) of each seed,
    so ``n`` jobs with shards ``[0, n]`` ... ``[n - 1, n]`` share a protocol's folds (e.g.
    one process per CPU core). The shard is not part of a result's identity: the rows are
    the ones a single job would write.
    """
    if value is None:
        return None
    items = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else []
    ok = (len(items) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                  for v in items) and 0 <= items[0] < items[1])
    if not ok:
        raise ValueError(f"Invalid value for the 'fold_shard' parameter. Allowed values are "
                         f"null or [k, n] with integers 0 <= k < n (e.g. [0, 2]), but got "
                         f"{value!r}.")
    return int(items[0]), int(items[1])


def _summary(job: Job, store: ResultStore, chash: str, fingerprints: dict[str, Any],
             n_new: int, n_skipped: int, regression: bool = False) -> list[dict[str, Any]]:
    """Return the job's stored rows (this data and code only) and log their mean score."""
    spec = job.spec
    frame = store.to_frame()
    if not len(frame):
        return []
    mine = frame[(frame["config_hash"] == chash) & frame["seed"].isin(list(spec.seeds))
                 & (frame["adaptation"] == adaptation_of(job))]
    for name_fp, value in fingerprints.items():  # rows of this data and code only
        mine = mine[mine[name_fp].isna()] if value is None else mine[mine[name_fp] == value]
    metric = LOGGED_METRIC["regression" if regression else "classification"]
    scores = mine[f"metric.{metric}"].to_numpy(dtype=float)
    # sample standard deviation (ddof=1), the convention of the leaderboard tables
    spread = np.nanstd(scores, ddof=1) if np.isfinite(scores).sum() > 1 else 0.0
    logger.info("%s on %s (%s): %d new fold(s), %d skipped; %s %.3f +- %.3f "
                "(mean +- sample SD) over %d fold(s). Results: %s", spec.model.name,
                spec.dataset.name, spec.protocol.name, n_new, n_skipped,
                metric.replace("_", " "), np.nanmean(scores), spread, len(scores),
                Path(spec.paths.results_dir).resolve())
    return mine.to_dict("records")


def run_experiment(job: Job | Mapping[str, Any]) -> list[dict[str, Any]]:
    """Run every (seed, fold) of the job that is not yet in the store.

    ``job`` is the validated job (:class:`eegbench.config.Job`, built once by the command
    line), or a configuration mapping that is validated here. With ``fold_shard: [k, n]``
    (:func:`parse_fold_shard`) only every n-th fold from the k-th runs; the returned rows are
    still all stored rows of the job.

    Returns
    -------
    list of dict
        The rows of this job (new and previously stored), for a summary.
    """
    job = as_job(job)
    spec = job.spec
    store = ResultStore(spec.paths.results_dir)
    store.check_writable()  # a read-only store fails now, not after the first fold
    shard = parse_fold_shard(spec.fold_shard)
    ds = load_dataset(job)
    check_subject_classes(ds)  # never test a subject on one class only
    if ds.is_regression:
        check_regression_job(job, ds)
    fingerprints = row_fingerprints(job, ds)  # the windows are hashed once per job
    data_quality = summarize_quality(ds.info.get("quality") or [])
    chash = identity_hash(job)
    plan = protocol_plan(job, ds)
    ds = plan.ds
    model_name = spec.model.name
    probe_layers = probes_apply(plan.probe_layers, model_builder(job)() if plan.probe_layers
                                else None, model_name)
    cache = BaseModelCache()
    n_new = n_skipped = 0

    def store_fold(i: int, fold: Fold, row: ResultRow, model: Any, tally: _SeedTally) -> None:
        """Write a fold's row (its layer-probe rows first) and log it with an ETA."""
        nonlocal n_new
        row = dataclasses.replace(row, **fingerprints, data_quality=data_quality)
        if probe_layers:  # probe rows first: a stored fold row then implies its probes are
            write_probe_rows(store, row, model, ds, fold, plan.probe_max_features)
        store.write(row)
        n_new += 1
        tally.n_done += 1
        metric = LOGGED_METRIC["classification" if row.target is None else "regression"]
        logger.info("[%s seed %s] fold %d/%d %s: %s %.3f (%.1f s; %d/%d done, ETA %s)",
                    model_name, tally.seed, i, tally.n_folds, fold.name, metric,
                    row.metrics[metric], row.train_seconds, tally.n_done, tally.n_pending,
                    tally.eta())

    for seed in spec.seeds:
        folds = plan.folds(int(seed))
        pending: list[tuple[int, Fold]] = []
        for i, fold in enumerate(folds, 1):
            if shard is not None and (i - 1) % shard[1] != shard[0]:
                continue  # another job's share of the folds
            if store.has(row_key_of(job, fold, seed, chash, fingerprints)) and (
                    not probe_layers
                    or probes_stored(store, job, fold, seed, chash, fingerprints)):
                n_skipped += 1
                logger.info("[%s seed %s] fold %d/%d %s: already in the store, skipped",
                            model_name, seed, i, len(folds), fold.name)
                continue
            pending.append((i, fold))
        # a frozen encoder's random initialisation depends on the seed; few-shot folds do
        # not use fold-invariant features
        features = (plan.shared_features(job, int(seed))
                    if any(not len(fold.calib) for _, fold in pending) else None)
        tally = _SeedTally(int(seed), len(folds), len(pending))
        writer = functools.partial(store_fold, tally=tally)
        rest = fit_folds_in_parallel(job, ds, pending, int(seed), chash, features, len(folds),
                                     writer)
        for i, fold in rest:
            with fold_label(f"{model_name} seed {seed} fold {i}/{len(folds)} {fold.name}"):
                row, model = fit_and_score(job, ds, fold, int(seed), chash, plan.calibration,
                                           cache, features)
            writer(i, fold, row, model)
    if spec.audit is not None:
        run_audit(job, ds, store, plan, chash, fingerprints)
    return _summary(job, store, chash, fingerprints, n_new, n_skipped, ds.is_regression)


def check_regression_job(job: Job, ds: Any) -> None:
    """Raise unless the job can run on a regression task (numeric target).

    A regression job needs a regression model; few-shot calibration, nested hyperparameter
    search, layer probes and the leakage audit are classification-only so far.

    Raises
    ------
    ValueError
        Naming the option and the task.
    """
    spec = job.spec
    protocol = job.section("protocol")
    unsupported = [name for name, used in (
        ("hp_search", spec.hp_search is not None), ("audit", spec.audit is not None),
        ("protocol.layer_probe", bool(protocol.get("layer_probe"))),
        (f"protocol={spec.protocol.name}", spec.protocol.name == "fewshot")) if used]
    if unsupported:
        raise ValueError(f"Task '{spec.dataset.task}' is a regression task: {unsupported} "
                         "support classification tasks only.")
    check_model_task(model_builder(job)(), ds, spec.model.name, spec.dataset.task)
