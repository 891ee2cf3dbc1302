"""Orchestrate one job: dataset x model x protocol, over seeds and folds.

Each finished fold is written to the results store at once; a re-run of the same command
skips folds whose row exists, so an interrupted run resumes without losing or duplicating
results.
"""

from __future__ import annotations

import datetime as dt
import logging
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from eegbench.data.cache import WindowsDataset, load_windows
from eegbench.data.channels import harmonize_from_config
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.metrics import compute_metrics
from eegbench.models.base import BenchmarkModel, SignalSpec, build_model, load_builtin_models
from eegbench.protocols.adapters import (
    FIRST_PROBE_ADAPTATION,
    CalibrationSpec,
    layer_probe_rows,
    torch_module,
)
from eegbench.protocols.fewshot import BaseModelCache, fit_fewshot
from eegbench.protocols.splitters import Fold, make_splitter
from eegbench.results.provenance import config_hash, git_revision, package_versions
from eegbench.results.schema import ResultRow, row_key
from eegbench.results.store import ResultStore

logger = logging.getLogger(__name__)

#: Config sections that define a result's identity (paths, logging and seeds do not).
IDENTITY_SECTIONS = ("dataset", "preprocess", "model", "protocol", "trainer")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_dataset(cfg: DictConfig) -> WindowsDataset:
    """Load (or build and cache) the standardized windows named by ``cfg.dataset``."""
    recipe = load_recipe(cfg.dataset.recipe)
    spec = PreprocessSpec.from_config(cfg.preprocess)
    subjects = cfg.dataset.get("subjects")
    ds = load_windows(recipe, Path(cfg.paths.data_root), spec, Path(cfg.paths.cache_dir),
                      subjects=None if subjects is None else [str(s) for s in subjects])
    # A model that needs a fixed channel set declares model.channels (names, policy, montage).
    return harmonize_from_config(ds, cfg.model.get("channels"))


def check_model_name(name: str) -> None:
    """Raise a "did you mean" error now if ``name`` is not a registered model."""
    load_builtin_models().get(name)


#: Protocol keys that add result rows without changing the others (not hashed).
EXTRA_ROW_KEYS = ("layer_probe", "layer_probe_max_features")


def identity_config(cfg: DictConfig) -> dict[str, Any]:
    """Return the resolved config sections that determine a result (not paths or seeds)."""
    container = OmegaConf.to_container(cfg, resolve=True)
    identity = {k: container.get(k) for k in IDENTITY_SECTIONS}
    if isinstance(identity.get("protocol"), dict):
        identity["protocol"] = {k: v for k, v in identity["protocol"].items()
                                if k not in EXTRA_ROW_KEYS}
    return identity


def identity_hash(cfg: DictConfig) -> str:
    """Hash :func:`identity_config` (the row's ``config_hash``)."""
    return config_hash(identity_config(cfg))


def adaptation_of(cfg: DictConfig) -> str:
    """Return the configured model's adaptation (``from_scratch`` when unset)."""
    return str(cfg.model.get("adaptation", "from_scratch"))


def model_builder(cfg: DictConfig) -> Callable[[], BenchmarkModel]:
    """Return a function that builds a fresh, unfitted instance of the configured model."""
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    params = dict(model_cfg.get("params") or {})
    params.setdefault("trainer", OmegaConf.to_container(cfg.trainer, resolve=True))
    params.setdefault("adaptation", adaptation_of(cfg))
    return lambda: build_model(model_cfg["name"], **params)


def fit_and_score(cfg: DictConfig, ds: WindowsDataset, fold: Fold, seed: int, chash: str,
                  calibration: CalibrationSpec | None = None,
                  cache: BaseModelCache | None = None) -> tuple[ResultRow, Any]:
    """Fit the configured model on ``fold``; return its result row and the fitted model.

    Few-shot folds (non-empty ``fold.calib``) are fitted by
    :func:`eegbench.protocols.fewshot.fit_fewshot` with ``calibration`` settings; ``cache``
    shares the cross-subject model between the folds of one subject.
    """
    build = model_builder(cfg)
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])
    y = ds.y
    if len(fold.calib):  # few-shot: calibration windows of the test subject
        model, fit_report, train_seconds = fit_fewshot(
            build, ds.X, y, fold, signal, seed, calibration or CalibrationSpec(), cache)
    else:
        model = build()
        t0 = time.perf_counter()
        fit_report = model.fit(ds.X[fold.train], y[fold.train], ds.X[fold.valid],
                               y[fold.valid], signal, seed)
        train_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    proba = model.predict_proba(ds.X[fold.test])
    inference_seconds = time.perf_counter() - t0
    row = ResultRow(
        dataset=cfg.dataset.name, task=cfg.dataset.task, protocol=cfg.protocol.name,
        fold=fold.name, test_subject=",".join(fold.test_subjects), model=cfg.model.name,
        family=model.family, adaptation=adaptation_of(cfg),
        seed=int(seed), config_hash=chash, metrics=compute_metrics(y[fold.test], proba),
        n_train=len(fold.train), n_valid=len(fold.valid), n_test=len(fold.test),
        n_parameters=model.n_parameters(), train_seconds=round(train_seconds, 3),
        inference_seconds=round(inference_seconds, 4), peak_rss_mb=round(_peak_rss_mb(), 1),
        git_revision=git_revision(), versions=package_versions(), fit_report=fit_report,
        valid_subjects=list(fold.valid_subjects), shots=fold.shots, draw=fold.draw,
        calibration=fold.calibration, n_calib=len(fold.calib),
        train_sessions=list(fold.train_sessions), test_sessions=list(fold.test_sessions),
        config=identity_config(cfg),
        n_trainable=(fit_report or {}).get("n_trainable"),  # probe head / PEFT adapters
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    return row, model


def run_experiment(cfg: DictConfig) -> list[dict[str, Any]]:
    """Run every (seed, fold) of the configured job that is not yet in the store.

    Returns
    -------
    list of dict
        The rows of this job (new and previously stored), for a summary.
    """
    check_model_name(cfg.model.name)  # fail before the (possibly long) data loading
    ds = load_dataset(cfg)
    store = ResultStore(cfg.paths.results_dir)
    chash = identity_hash(cfg)
    protocol = OmegaConf.to_container(cfg.protocol, resolve=True)
    name = protocol.pop("name")
    calibration = CalibrationSpec.from_config(protocol.pop("calibrate", None))
    # Optional: also probe every layer of each fold's trained network (deep models only).
    probe_layers = bool(protocol.pop("layer_probe", False))
    probe_max_features = int(protocol.pop("layer_probe_max_features", 512))
    if probe_layers and not hasattr(model_builder(cfg)(), "module"):  # torch networks only
        logger.info("%s has no torch module: layer_probe ignored", cfg.model.name)
        probe_layers = False
    cache = BaseModelCache()
    rows: list[dict[str, Any]] = []
    n_new = n_skipped = 0
    for seed in cfg.seeds:
        splitter = make_splitter(name, seed=int(seed), **protocol)
        folds = list(splitter.split(ds.meta))
        for i, fold in enumerate(folds, 1):
            identity = {"dataset": cfg.dataset.name, "task": cfg.dataset.task, "protocol": name,
                        "fold": fold.name, "model": cfg.model.name,
                        "adaptation": adaptation_of(cfg), "seed": int(seed),
                        "shots": fold.shots, "config_hash": chash}
            key = row_key(identity)
            probe_key = row_key({**identity, "adaptation": FIRST_PROBE_ADAPTATION})
            if store.has(key) and (not probe_layers or store.has(probe_key)):
                n_skipped += 1
                logger.info("[%s seed %s] fold %d/%d %s: already in the store, skipped",
                            cfg.model.name, seed, i, len(folds), fold.name)
                continue
            row, model = fit_and_score(cfg, ds, fold, int(seed), chash, calibration, cache)
            module = torch_module(model)
            if probe_layers and module is not None:
                # probe rows first: a stored fold row then implies its probes are stored
                for probe_row in layer_probe_rows(row, module, ds.X, ds.y, fold.train,
                                                  fold.test, probe_max_features):
                    store.write(probe_row)
            store.write(row)
            n_new += 1
            logger.info("[%s seed %s] fold %d/%d %s: balanced_accuracy %.3f (%.1f s)",
                        cfg.model.name, seed, i, len(folds), fold.name,
                        row.metrics["balanced_accuracy"], row.train_seconds)
    frame = store.to_frame()
    if len(frame):
        mine = frame[(frame["config_hash"] == chash) & frame["seed"].isin(list(cfg.seeds))
                     & (frame["adaptation"] == adaptation_of(cfg))]
        rows = mine.to_dict("records")
        scores = mine["metric.balanced_accuracy"].to_numpy(dtype=float)
        logger.info("%s on %s (%s): %d new fold(s), %d skipped; balanced accuracy %.3f +- %.3f "
                    "over %d fold(s). Results: %s", cfg.model.name, cfg.dataset.name, name,
                    n_new, n_skipped, np.nanmean(scores), np.nanstd(scores), len(scores),
                    Path(cfg.paths.results_dir).resolve())
    return rows
