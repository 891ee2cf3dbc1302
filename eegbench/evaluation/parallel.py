"""Train a seed's pending folds together where ``trainer.fold_parallel`` allows it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from eegbench.config import Job
from eegbench.data.cache import WindowsDataset
from eegbench.evaluation.fold import score_fold, train_subjects
from eegbench.evaluation.plan import model_builder
from eegbench.models.base import SignalSpec
from eegbench.models.fold_parallel import (
    model_blockers,
    parallel_mode,
    train_models_together,
)
from eegbench.progress import fold_label
from eegbench.protocols.splitters import Fold
from eegbench.results.row import ResultRow
from eegbench.training.fold_parallel.stack import NotStackable
from eegbench.training.loop import TrainerSpec

logger = logging.getLogger(__name__)


def fit_folds_in_parallel(job: Job, ds: WindowsDataset,
                          pending: list[tuple[int, Fold]], seed: int, chash: str,
                          features: np.ndarray | None, n_folds: int,
                          store_fold: Callable[[int, Fold, ResultRow, Any], None]
                          ) -> list[tuple[int, Fold]]:
    """Train the ``pending`` folds together where ``trainer.fold_parallel`` allows it.

    Each fold is scored and handed to ``store_fold`` as soon as it is final
    (:mod:`eegbench.training.fold_parallel`). Returns the folds left to train one by one: all
    of them when the configuration or the model cannot be stacked (the reason is logged),
    few-shot folds always. A stacked fold's ``train_seconds`` is the stack's elapsed time when
    the fold was final divided by the number of folds in the stack (its
    ``fit_report.fold_parallel`` has the wall time).
    """
    name = job.spec.model.name
    build = model_builder(job)
    prototype = build()
    trainer = getattr(prototype, "trainer", None)
    mode = parallel_mode(trainer) if isinstance(trainer, TrainerSpec) else None
    eligible = [(i, fold) for i, fold in pending if not len(fold.calib)]
    if mode is None or len(eligible) < 2:
        return pending
    reasons = model_blockers(prototype)
    if job.spec.hp_search is not None:
        reasons.append("nested hyperparameter search selects per fold")
    if features is not None:
        reasons.append("the model fits precomputed fold-invariant features")
    if reasons:
        logger.info("[%s] trainer.fold_parallel=%s: training fold after fold (%s)",
                    name, trainer.fold_parallel, "; ".join(reasons))
        return pending
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])

    def on_done(k: int, model: Any, report: dict[str, Any], wall_seconds: float) -> None:
        i, fold = eligible[k]
        report = {**report, "train_subjects": train_subjects(ds, fold.train)}
        store_fold(i, fold, score_fold(job, ds, fold, seed, chash, model, report,
                                       wall_seconds / len(eligible)), model)

    label = f"{name} seed {seed} folds {eligible[0][0]}-{eligible[-1][0]}/{n_folds}"
    try:
        with fold_label(label):
            train_models_together([build() for _ in eligible], ds.X, ds.y,
                                  [(fold.train, fold.valid) for _, fold in eligible], signal,
                                  [seed] * len(eligible), mode == "exact", on_done)
    except NotStackable as err:
        logger.info("[%s] trainer.fold_parallel=%s: training fold after fold (%s)",
                    name, trainer.fold_parallel, err)
        return pending
    return [(i, fold) for i, fold in pending if len(fold.calib)]
