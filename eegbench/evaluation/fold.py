"""One fold: fit the configured model on its training windows and score its test windows.

:func:`fit_and_score` picks one of three fits: few-shot (calibration windows of the test
subject, :func:`eegbench.adaptation.calibration.fit_fewshot`), from fold-invariant features
precomputed once per dataset, or from the windows (with nested hyperparameter selection when
the job asks for it); :func:`score_fold` turns the fitted model's test predictions into the
fold's :class:`~eegbench.results.row.ResultRow`.
"""

from __future__ import annotations

import datetime as dt
import logging
import resource
import time
from typing import Any

import numpy as np

from eegbench.adaptation.calibration import BaseModelCache, CalibrationSpec, fit_fewshot
from eegbench.adaptation.collapse import is_collapsed, predicted_class_counts
from eegbench.config import Job
from eegbench.data.cache import WindowsDataset
from eegbench.data.recipe import recipe_primary_metric
from eegbench.evaluation.identity import identity_config
from eegbench.evaluation.plan import adaptation_of, hp_source_of, model_builder, uses_validation
from eegbench.metrics import score_predictions, score_regression
from eegbench.models.base import BenchmarkModel, SignalSpec
from eegbench.protocols.splitters import Fold
from eegbench.results.provenance import git_revision, package_versions
from eegbench.results.row import ResultRow

logger = logging.getLogger(__name__)

# What a fit returns: the fitted model, its report and its training time in seconds.
_FitResult = tuple[BenchmarkModel, dict[str, Any], float]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def train_subjects(ds: WindowsDataset, train: np.ndarray) -> list[str]:
    """Return the sorted subjects of the windows ``train`` (the row's ``train_subjects``)."""
    return sorted(str(s) for s in ds.meta["subject"].iloc[train].unique())


def training_windows(model: BenchmarkModel, fold: Fold) -> tuple[np.ndarray, np.ndarray]:
    """Return the fold's ``(train, valid)`` windows for ``model``.

    A model without early stopping learns from every non-test subject (no validation windows).
    """
    if uses_validation(model):
        return fold.train, fold.valid
    return np.sort(np.concatenate([fold.train, fold.valid])), fold.valid[:0]


def is_regressor(model: BenchmarkModel) -> bool:
    """True for a regression model (``task = "regression"``: numeric predictions)."""
    return getattr(model, "task", "classification") == "regression"


def check_model_task(model: BenchmarkModel, ds: WindowsDataset, name: str, task: str) -> None:
    """Raise unless ``model`` solves the kind of task of ``ds`` (regression or classification).

    Raises
    ------
    ValueError
        Naming the model, the task and what to use instead.
    """
    if is_regressor(model) == ds.is_regression:
        return
    if ds.is_regression:
        raise ValueError(
            f"Model '{name}' is a classifier, but task '{task}' is a regression task (a "
            f"numeric target, {ds.info['target'].get('column')!r}): use a regression model "
            "(ts_ridge, mean_regressor).")
    raise ValueError(f"Model '{name}' is a regression model, but task '{task}' is a "
                     f"classification task (classes {ds.info.get('classes')}): use a "
                     "classifier, or a regression task of the recipe (its 'targets').")


def _group_kwargs(model: BenchmarkModel, ds: WindowsDataset, train: np.ndarray
                  ) -> dict[str, Any]:
    """``groups`` (the training windows' subjects) for a regressor's internal selection."""
    if not is_regressor(model):
        return {}
    return {"groups": ds.meta["subject"].astype(str).to_numpy()[train]}


def _fit_fewshot(job: Job, ds: WindowsDataset, fold: Fold, seed: int,
                 calibration: CalibrationSpec | None, cache: BaseModelCache | None
                 ) -> _FitResult:
    """Few-shot: the cross-subject model calibrated on the test subject's first windows."""
    build = model_builder(job, fixed_budget=fold.calibration == "from_scratch")
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])
    model, report, seconds = fit_fewshot(build, ds.X, ds.y, fold, signal, seed,
                                         calibration or CalibrationSpec(), cache)
    return model, dict(report or {}), seconds


def _fit_features(job: Job, ds: WindowsDataset, fold: Fold, seed: int,
                  features: np.ndarray) -> _FitResult:
    """The model fits its fold-invariant features of the windows (the same fit, shared work)."""
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])
    model = model_builder(job)()
    train, valid = training_windows(model, fold)
    t0 = time.perf_counter()
    report = model.fit_features(features[train], ds.y[train], features[valid], ds.y[valid],
                                signal, seed, **_group_kwargs(model, ds, train))
    seconds = time.perf_counter() - t0
    return model, {**(report or {}), "train_subjects": train_subjects(ds, train)}, seconds


def _fit_windows(job: Job, ds: WindowsDataset, fold: Fold, seed: int) -> _FitResult:
    """Fit the model on the windows.

    With ``hp_search``, its parameters are selected first by nested cross-validation on the
    training subjects only.
    """
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])
    y = ds.y
    t0 = time.perf_counter()
    build, search = model_builder(job), None
    if job.spec.hp_search is not None:
        from eegbench.protocols.nested import select_hyperparameters

        hp = job.spec.hp_search
        best, search = select_hyperparameters(
            lambda p: model_builder(job, overrides=p)(), dict(hp.grid), ds.X, y,
            ds.meta["subject"].astype(str).to_numpy(), fold.train, fold.valid, signal, seed,
            metric=recipe_primary_metric(str(job.spec.dataset.recipe), job.spec.dataset.task),
            inner_folds=int(hp.inner_folds))
        build = model_builder(job, overrides=best)
    model = build()
    train, valid = training_windows(model, fold)
    report = dict(model.fit(ds.X[train], y[train], ds.X[valid], y[valid], signal, seed,
                            **_group_kwargs(model, ds, train)) or {})
    if search is not None:
        report["hp_search"] = search
    seconds = time.perf_counter() - t0
    return model, {**report, "train_subjects": train_subjects(ds, train)}, seconds


def fit_and_score(job: Job, ds: WindowsDataset, fold: Fold, seed: int, chash: str,
                  calibration: CalibrationSpec | None = None,
                  cache: BaseModelCache | None = None,
                  features: np.ndarray | None = None) -> tuple[ResultRow, Any]:
    """Fit the configured model on ``fold``; return its result row and the fitted model.

    Few-shot folds (non-empty ``fold.calib``) are fitted by
    :func:`eegbench.adaptation.calibration.fit_fewshot` with ``calibration`` settings; ``cache``
    shares the cross-subject model between the folds of one subject. ``features`` are the
    model's fold-invariant features of all windows
    (:func:`eegbench.evaluation.plan.fold_invariant_features`): the model then fits and
    predicts from them (the same fit; used by folds without calibration and without nested
    selection, which fits its candidates from the windows).
    """
    if job.spec.hp_search is not None:
        features = None
    if len(fold.calib):
        model, report, seconds = _fit_fewshot(job, ds, fold, seed, calibration, cache)
    elif features is not None:
        model, report, seconds = _fit_features(job, ds, fold, seed, features)
    else:
        model, report, seconds = _fit_windows(job, ds, fold, seed)
    return score_fold(job, ds, fold, seed, chash, model, report, seconds, features), model


def score_fold(job: Job, ds: WindowsDataset, fold: Fold, seed: int, chash: str,
               model: BenchmarkModel, fit_report: dict[str, Any] | None,
               train_seconds: float, features: np.ndarray | None = None) -> ResultRow:
    """Predict the test windows of ``fold`` with the fitted ``model``; return its result row."""
    spec = job.spec
    check_model_task(model, ds, spec.model.name, spec.dataset.task)
    if is_regressor(model):
        return _score_regression_fold(job, ds, fold, seed, chash, model, fit_report,
                                      train_seconds, features)
    t0 = time.perf_counter()
    if features is not None and not len(fold.calib):
        proba = model.predict_proba_features(features[fold.test])
    else:
        proba = model.predict_proba(ds.X[fold.test])
    inference_seconds = time.perf_counter() - t0
    # Test labels and class probabilities (float32), stored for tests against chance; the
    # metrics are computed from the stored values, so the row can be checked against them.
    predictions, metrics = score_predictions(ds.y[fold.test], proba)
    counts = predicted_class_counts(np.asarray(predictions["proba"]), len(ds.info["classes"]))
    if is_collapsed(counts):
        logger.warning("[%s] fold %s collapsed: every test window predicted as one class %s",
                       spec.model.name, fold.name, counts)
    return _row(job, ds, fold, seed, chash, model, fit_report, train_seconds,
                inference_seconds, predictions, metrics, counts)


def _score_regression_fold(job: Job, ds: WindowsDataset, fold: Fold, seed: int, chash: str,
                           model: BenchmarkModel, fit_report: dict[str, Any] | None,
                           train_seconds: float, features: np.ndarray | None) -> ResultRow:
    """A regression fold's row: numeric predictions, regression metrics, training mean.

    ``train_mean`` is the mean target of the windows the model was trained on (the
    prediction of the training-mean reference, against which the tables test the model).
    """
    t0 = time.perf_counter()
    if features is not None:
        pred = model.predict_features(features[fold.test])
    else:
        pred = model.predict(ds.X[fold.test])
    inference_seconds = time.perf_counter() - t0
    train, _ = training_windows(model, fold)
    y = ds.y
    predictions, metrics = score_regression(y[fold.test], pred, float(np.mean(y[train])))
    return _row(job, ds, fold, seed, chash, model, fit_report, train_seconds,
                inference_seconds, predictions, metrics, None)


def _row(job: Job, ds: WindowsDataset, fold: Fold, seed: int, chash: str,
         model: BenchmarkModel, fit_report: dict[str, Any] | None, train_seconds: float,
         inference_seconds: float, predictions: dict[str, Any], metrics: dict[str, float],
         counts: list[int] | None) -> ResultRow:
    """Assemble a fold's :class:`ResultRow` (classification: ``counts`` per class)."""
    spec = job.spec
    fit_report = dict(fit_report or {})
    separate_valid = bool(len(fold.calib)) or uses_validation(model)
    return ResultRow(
        dataset=spec.dataset.name, task=spec.dataset.task, protocol=spec.protocol.name,
        fold=fold.name, test_subject=",".join(fold.test_subjects), model=spec.model.name,
        family=model.family, adaptation=adaptation_of(job),
        seed=int(seed), config_hash=chash, metrics=metrics,
        n_train=len(fold.train) + (0 if separate_valid else len(fold.valid)),
        n_valid=len(fold.valid) if separate_valid else 0,
        n_test=len(fold.test),
        n_parameters=model.n_parameters(), train_seconds=round(train_seconds, 3),
        inference_seconds=round(inference_seconds, 4), peak_rss_mb=round(_peak_rss_mb(), 1),
        git_revision=git_revision(), versions=package_versions(), fit_report=fit_report,
        valid_subjects=list(fold.valid_subjects), shots=fold.shots, draw=fold.draw,
        calibration=fold.calibration, n_calib=len(fold.calib),
        train_sessions=list(fold.train_sessions), test_sessions=list(fold.test_sessions),
        config=identity_config(job), predictions=predictions,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        budget=fit_report.get("budget") or ({"kind": "sklearn", "fit": "pipeline.fit, no epochs"}
                                             if model.family == "classical" else None),
        n_trainable=fit_report.get("n_trainable"),
        predicted_class_counts=counts, collapsed=None if counts is None else is_collapsed(counts),
        hp_source=fit_report.get("hp_source") or hp_source_of(job, fit_report),
        suite=_suite_label(job), target=ds.info.get("target") if ds.is_regression else None,
    )


def _suite_label(job: Job) -> str | None:
    """``<name>@<version>`` of the suite the job runs for (``+suite=``), else None."""
    suite = job.resolved.get("suite")
    return f"{suite['name']}@{suite['version']}" if suite else None
