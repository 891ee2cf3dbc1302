"""Orchestrate one job: dataset x model x protocol, over seeds and folds.

Each finished fold is written to the results store at once; a re-run of the same command
skips folds whose row exists, so an interrupted run resumes without losing or duplicating
results.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from eegbench.adaptation.collapse import is_collapsed, predicted_class_counts
from eegbench.adaptation.layer_probe import FIRST_PROBE_ADAPTATION, layer_probe_rows
from eegbench.data.cache import WindowsDataset, check_subject_classes, load_windows
from eegbench.data.channels import harmonize_from_config
from eegbench.data.quality import summarize as summarize_quality
from eegbench.data.recipe import load_recipe, recipe_primary_metric
from eegbench.data.standardize import PreprocessSpec
from eegbench.features.precompute import precompute_fold_invariant
from eegbench.metrics import score_predictions
from eegbench.models.base import BenchmarkModel, SignalSpec, build_model
from eegbench.progress import fold_label
from eegbench.protocols.alignment import PROTOCOL_DEFAULTS as ALIGNMENT_DEFAULTS
from eegbench.protocols.alignment import AlignmentSpec, SubjectAlignment
from eegbench.protocols.alignment import prepare as prepare_alignment
from eegbench.protocols.calibration import CalibrationSpec, torch_module
from eegbench.protocols.fewshot import BaseModelCache, fit_fewshot
from eegbench.protocols.splitters import Fold, make_splitter
from eegbench.results.fingerprints import (
    data_fingerprint,
    model_code_fingerprint,
    weights_identity,
)
from eegbench.results.provenance import config_hash, git_revision, package_versions
from eegbench.results.row import ResultRow, row_key
from eegbench.results.store import ResultStore
from eegbench.training.fold_parallel.models import (
    model_blockers,
    parallel_mode,
    train_models_together,
)
from eegbench.training.fold_parallel.stack import NotStackable
from eegbench.training.loop import TrainerSpec

logger = logging.getLogger(__name__)

#: Config sections that define a result's identity (paths, logging and seeds do not).
IDENTITY_SECTIONS = ("dataset", "preprocess", "model", "protocol", "trainer")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load_dataset(cfg: DictConfig) -> WindowsDataset:
    """Load (or build and cache) the standardized windows named by ``cfg.dataset``."""
    spec = PreprocessSpec.from_config(cfg.preprocess)
    subjects = cfg.dataset.get("subjects")
    subjects = None if subjects is None else [str(s) for s in subjects]
    if cfg.dataset.get("moabb") is not None:  # a MOABB dataset + paradigm (no recipe)
        from omegaconf import OmegaConf

        from eegbench.data.bridges.moabb import load_moabb

        ds = load_moabb(OmegaConf.to_container(cfg.dataset.moabb, resolve=True), spec,
                        Path(cfg.paths.cache_dir), subjects, name=cfg.dataset.name)
        return harmonize_from_config(ds, cfg.model.get("channels"))
    recipe = load_recipe(cfg.dataset.recipe, task=cfg.dataset.get("task"))
    ds = load_windows(recipe, Path(cfg.paths.data_root), spec, Path(cfg.paths.cache_dir),
                      subjects=subjects)
    # A model that needs a fixed channel set declares model.channels (names, policy, montage).
    return harmonize_from_config(ds, cfg.model.get("channels"))


def split_meta(ds: WindowsDataset) -> Any:
    """Return the metadata table the splitters see: ``ds.meta`` plus ``duration_s``.

    ``duration_s`` (window length in seconds) lets within-subject protocols keep a gap of one
    window between training and test windows.
    """
    if "duration_s" in ds.meta:
        return ds.meta
    return ds.meta.assign(duration_s=ds.X.shape[-1] / float(ds.info["sfreq"]))


#: Protocol keys that add result rows without changing the others (not hashed).
EXTRA_ROW_KEYS = ("layer_probe", "layer_probe_max_features")
#: Optional protocol keys left out of the hash while at their defaults, so rows computed before
#: the option existed keep their identity.
OPTIONAL_PROTOCOL_DEFAULTS = ALIGNMENT_DEFAULTS


#: Trainer keys that decide how folds are scheduled, not what is computed: never hashed (each
#: row records its schedule in ``fit_report.fold_parallel``).
SCHEDULING_TRAINER_KEYS = ("fold_parallel",)
#: Trainer keys left out of the hash while null or at their default, so rows computed before
#: the option existed keep their identity; any other value is part of it.
OPTIONAL_TRAINER_DEFAULTS = {"precision": "fp32", "compile": False}


def identity_config(cfg: DictConfig) -> dict[str, Any]:
    """Return the resolved config sections that determine a result (not paths or seeds)."""
    container = OmegaConf.to_container(cfg, resolve=True)
    identity = {k: container.get(k) for k in IDENTITY_SECTIONS}
    if isinstance(identity.get("trainer"), dict):
        identity["trainer"] = {
            k: v for k, v in identity["trainer"].items() if k not in SCHEDULING_TRAINER_KEYS
            and not (k in OPTIONAL_TRAINER_DEFAULTS and v in (None, OPTIONAL_TRAINER_DEFAULTS[k]))}
    if container.get("hp_search"):  # nested selection changes the result: part of the identity
        identity["hp_search"] = container["hp_search"]
    if isinstance(identity.get("protocol"), dict):
        identity["protocol"] = {k: v for k, v in identity["protocol"].items()
                                if k not in EXTRA_ROW_KEYS
                                and not (k in OPTIONAL_PROTOCOL_DEFAULTS
                                         and v == OPTIONAL_PROTOCOL_DEFAULTS[k])}
    return identity


def identity_hash(cfg: DictConfig) -> str:
    """Hash :func:`identity_config` (the row's ``config_hash``)."""
    return config_hash(identity_config(cfg))


def adaptation_of(cfg: DictConfig) -> str:
    """Return the configured model's adaptation (``from_scratch`` when unset)."""
    return str(cfg.model.get("adaptation", "from_scratch"))


def trainer_settings(cfg: DictConfig) -> dict[str, Any]:
    """Return the optimisation settings: the model's ``recipe`` under the ``trainer`` group.

    Precedence: built-in defaults (:class:`eegbench.training.loop.TrainerSpec`) < the model yaml's
    ``recipe`` (the original authors' settings) < every non-null key of the ``trainer`` group
    (``trainer=fast``, or ``trainer.max_epochs=10`` on the command line).
    """
    recipe = OmegaConf.to_container(cfg.model, resolve=True).get("recipe") or {}
    trainer = OmegaConf.to_container(cfg.trainer, resolve=True) if cfg.get("trainer") else {}
    return {**dict(recipe), **{k: v for k, v in dict(trainer).items() if v is not None}}


def model_builder(cfg: DictConfig, fixed_budget: bool = False,
                  overrides: dict[str, Any] | None = None) -> Callable[[], BenchmarkModel]:
    """Return a function that builds a fresh, unfitted instance of the configured model.

    ``fixed_budget``: deep models train for their whole epoch budget without early stopping
    (``patience: 0``), e.g. few-shot training on the shots alone. ``overrides`` replace model
    parameters (nested hyperparameter selection).
    """
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    params = {**dict(model_cfg.get("params") or {}), **dict(overrides or {})}
    trainer = trainer_settings(cfg)
    if fixed_budget:
        trainer["patience"] = 0
    params.setdefault("trainer", trainer)
    params.setdefault("adaptation", adaptation_of(cfg))
    return lambda: build_model(model_cfg["name"], **params)


def hp_source_of(cfg: DictConfig, fit_report: dict[str, Any] | None = None) -> str:
    """Return how the model's hyperparameters were decided (the row's ``hp_source``).

    ``nested: ...`` when the fit selected them by nested cross-validation on the training
    subjects (its report carries ``hp_search``), else ``a priori: ...`` with the model
    config's ``hp_source`` note, its recipe's ``recipe_source`` citation, or the config file.
    """
    search = (fit_report or {}).get("hp_search")
    if isinstance(search, dict):
        return f"nested: {search.get('inner', 'inner split of the training subjects')}"
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    recipe = model_cfg.get("recipe") or {}
    note = model_cfg.get("hp_source") or (recipe.get("recipe_source")
                                          if isinstance(recipe, dict) else None)
    return f"a priori: {note}" if note else f"a priori: conf/model/{cfg.model.name}.yaml"


def uses_validation(model: BenchmarkModel) -> bool:
    """True if ``model`` selects epochs on validation subjects (deep models).

    Models that do not (classical pipelines) are trained on every non-test subject.
    """
    return bool(getattr(model, "uses_validation", model.family != "classical"))


def fit_and_score(cfg: DictConfig, ds: WindowsDataset, fold: Fold, seed: int, chash: str,
                  calibration: CalibrationSpec | None = None,
                  cache: BaseModelCache | None = None,
                  features: np.ndarray | None = None) -> tuple[ResultRow, Any]:
    """Fit the configured model on ``fold``; return its result row and the fitted model.

    Few-shot folds (non-empty ``fold.calib``) are fitted by
    :func:`eegbench.protocols.fewshot.fit_fewshot` with ``calibration`` settings; ``cache``
    shares the cross-subject model between the folds of one subject. ``features`` are the
    model's fold-invariant features of all windows (:func:`fold_invariant_features`): the
    model then fits and predicts from them (the same fit; used by folds without calibration).
    """
    build = model_builder(cfg, fixed_budget=fold.calibration == "from_scratch")
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])
    if cfg.get("hp_search"):  # nested selection fits its candidates from the windows
        features = None
    y = ds.y
    if len(fold.calib):  # few-shot: calibration windows of the test subject
        model, fit_report, train_seconds = fit_fewshot(
            build, ds.X, y, fold, signal, seed, calibration or CalibrationSpec(), cache)
    elif features is not None:  # fold-invariant steps precomputed once per dataset
        model = build()
        train, valid = fold.train, fold.valid
        if not uses_validation(model):  # no early stopping: learn from every non-test subject
            train, valid = np.sort(np.concatenate([fold.train, fold.valid])), fold.valid[:0]
        t0 = time.perf_counter()
        fit_report = model.fit_features(features[train], y[train], features[valid],
                                        y[valid], signal, seed)
        train_seconds = time.perf_counter() - t0
        fit_report = {**(fit_report or {}), "train_subjects": sorted(
            str(s) for s in ds.meta["subject"].iloc[train].unique())}
    else:
        t0 = time.perf_counter()
        search = None
        if cfg.get("hp_search"):  # nested cross-validation on the training subjects only
            from eegbench.protocols.nested import select_hyperparameters

            spec = OmegaConf.to_container(cfg.hp_search, resolve=True)
            best, search = select_hyperparameters(
                lambda p: model_builder(cfg, overrides=p)(), spec.get("grid") or {}, ds.X, y,
                ds.meta["subject"].astype(str).to_numpy(), fold.train, fold.valid, signal,
                seed, metric=recipe_primary_metric(str(cfg.dataset.recipe),
                                                   cfg.dataset.get("task")),
                inner_folds=int(spec.get("inner_folds", 3)))
            build = model_builder(cfg, overrides=best)
        model = build()
        train, valid = fold.train, fold.valid
        if not uses_validation(model):  # no early stopping: learn from every non-test subject
            train, valid = np.sort(np.concatenate([fold.train, fold.valid])), fold.valid[:0]
        fit_report = model.fit(ds.X[train], y[train], ds.X[valid], y[valid], signal, seed)
        if search is not None:
            fit_report = {**(fit_report or {}), "hp_search": search}
        train_seconds = time.perf_counter() - t0
        fit_report = {**(fit_report or {}), "train_subjects": sorted(
            str(s) for s in ds.meta["subject"].iloc[train].unique())}
    return score_fold(cfg, ds, fold, seed, chash, model, fit_report, train_seconds,
                      features), model


def score_fold(cfg: DictConfig, ds: WindowsDataset, fold: Fold, seed: int, chash: str,
               model: BenchmarkModel, fit_report: dict[str, Any] | None,
               train_seconds: float, features: np.ndarray | None = None) -> ResultRow:
    """Predict the test windows of ``fold`` with the fitted ``model``; return its result row."""
    y = ds.y
    t0 = time.perf_counter()
    if features is not None and not len(fold.calib):
        proba = model.predict_proba_features(features[fold.test])
    else:
        proba = model.predict_proba(ds.X[fold.test])
    inference_seconds = time.perf_counter() - t0
    # Test labels and class probabilities (float32), stored for tests against chance; the
    # metrics are computed from the stored values, so the row can be checked against them.
    predictions, metrics = score_predictions(y[fold.test], proba)
    counts = predicted_class_counts(np.asarray(predictions["proba"]), len(ds.info["classes"]))
    if is_collapsed(counts):
        logger.warning("[%s] fold %s collapsed: every test window predicted as one class %s",
                       cfg.model.name, fold.name, counts)
    fit_report = dict(fit_report or {})
    row = ResultRow(
        dataset=cfg.dataset.name, task=cfg.dataset.task, protocol=cfg.protocol.name,
        fold=fold.name, test_subject=",".join(fold.test_subjects), model=cfg.model.name,
        family=model.family, adaptation=adaptation_of(cfg),
        seed=int(seed), config_hash=chash, metrics=metrics,
        n_train=len(fold.train) + (0 if len(fold.calib) or uses_validation(model)
                                   else len(fold.valid)),
        n_valid=len(fold.valid) if len(fold.calib) or uses_validation(model) else 0,
        n_test=len(fold.test),
        n_parameters=model.n_parameters(), train_seconds=round(train_seconds, 3),
        inference_seconds=round(inference_seconds, 4), peak_rss_mb=round(_peak_rss_mb(), 1),
        git_revision=git_revision(), versions=package_versions(), fit_report=fit_report,
        valid_subjects=list(fold.valid_subjects), shots=fold.shots, draw=fold.draw,
        calibration=fold.calibration, n_calib=len(fold.calib),
        train_sessions=list(fold.train_sessions), test_sessions=list(fold.test_sessions),
        config=identity_config(cfg), predictions=predictions,
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        budget=fit_report.get("budget") or ({"kind": "sklearn", "fit": "pipeline.fit, no epochs"}
                                             if model.family == "classical" else None),
        n_trainable=fit_report.get("n_trainable"),
        predicted_class_counts=counts, collapsed=is_collapsed(counts),
        hp_source=fit_report.get("hp_source") or hp_source_of(cfg, fit_report),
    )
    return row


def row_fingerprints(cfg: DictConfig, ds: WindowsDataset) -> dict[str, Any]:
    """Return what a row was computed from (data, code, weights), for its key and provenance.

    The model is built first, so that the code fingerprint sees every module the model
    imports; the checkpoint is resolved as the model will load it. ``weights`` (the row's
    provenance of the checkpoint) is not a key field. See :mod:`eegbench.results.fingerprints`.
    """
    params = OmegaConf.to_container(cfg.model, resolve=True).get("params") or {}
    model_builder(cfg)()
    checkpoint, weights = weights_identity(dict(params))
    return {"data_fingerprint": data_fingerprint(ds.info, ds.meta["subject"].unique().tolist()),
            "code_fingerprint": model_code_fingerprint(cfg.model.name),
            "checkpoint": checkpoint, "weights": weights}


def fold_invariant_features(cfg: DictConfig, ds: WindowsDataset,
                            seed: int | None = None) -> np.ndarray | None:
    """Return the configured model's fold-invariant features of all windows, or None.

    Computed once per (windows, transform) and cached in ``<paths.cache_dir>/features/``
    (:mod:`eegbench.features.precompute`); ``feature_cache=false`` (a top-level config key,
    default true) turns this off. Models without fold-invariant steps get None.
    """
    if not bool(cfg.get("feature_cache", True)):
        return None
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])
    return precompute_fold_invariant(model_builder(cfg)(), ds.X, signal, cfg.paths.cache_dir,
                                     seed=seed)


@dataclasses.dataclass
class ProtocolPlan:
    """The configured protocol, split into what the splitter takes and the fold-side options."""

    ds: WindowsDataset
    name: str
    splitter_params: dict[str, Any]
    calibration: CalibrationSpec
    probe_layers: bool
    probe_max_features: int
    alignment: SubjectAlignment


def protocol_plan(cfg: DictConfig, ds: WindowsDataset) -> ProtocolPlan:
    """Read ``cfg.protocol``: splitter parameters, calibration, layer probes, alignment.

    With ``protocol.align`` the returned dataset's windows are aligned per subject (label-free
    Euclidean / Riemannian re-centering).
    """
    protocol = OmegaConf.to_container(cfg.protocol, resolve=True)
    name = protocol.pop("name")
    spec = AlignmentSpec.pop_from(protocol)  # eegbench/protocols/alignment.py
    X, alignment = prepare_alignment(ds.X, ds.meta, ds.info, spec)
    if spec.method is not None:
        ds = WindowsDataset(X, ds.meta, {**ds.info, "aligned": spec.method})
    calibration = CalibrationSpec.from_config(protocol.pop("calibrate", None))
    # Optional: also probe every layer of each fold's trained network (deep models only).
    probe_layers = bool(protocol.pop("layer_probe", False))
    probe_max_features = int(protocol.pop("layer_probe_max_features", 512))
    return ProtocolPlan(ds, name, protocol, calibration, probe_layers, probe_max_features,
                        alignment)


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


def fit_folds_in_parallel(cfg: DictConfig, ds: WindowsDataset,
                          pending: list[tuple[int, Fold]], seed: int, chash: str,
                          features: np.ndarray | None, n_folds: int,
                          store_fold: Callable[[int, Fold, ResultRow, Any], None]
                          ) -> list[tuple[int, Fold]]:
    """Train the ``pending`` folds together where ``trainer.fold_parallel`` allows it.

    Each fold is scored and handed to ``store_fold`` as soon as it is final
    (:mod:`eegbench.training.fold_parallel`). Returns the folds left to train one by one: all of
    them when
    the configuration or the model cannot be stacked (the reason is logged), few-shot folds
    always. A stacked fold's ``train_seconds`` is the stack's elapsed time when the fold was
    final divided by the number of folds in the stack (its ``fit_report.fold_parallel`` has
    the wall time).
    """
    build = model_builder(cfg)
    prototype = build()
    trainer = getattr(prototype, "trainer", None)
    mode = parallel_mode(trainer) if isinstance(trainer, TrainerSpec) else None
    eligible = [(i, fold) for i, fold in pending if not len(fold.calib)]
    if mode is None or len(eligible) < 2:
        return pending
    reasons = model_blockers(prototype)
    if cfg.get("hp_search"):
        reasons.append("nested hyperparameter search selects per fold")
    if features is not None:
        reasons.append("the model fits precomputed fold-invariant features")
    if reasons:
        logger.info("[%s] trainer.fold_parallel=%s: training fold after fold (%s)",
                    cfg.model.name, trainer.fold_parallel, "; ".join(reasons))
        return pending
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])

    def on_done(k: int, model: Any, report: dict[str, Any], wall_seconds: float) -> None:
        i, fold = eligible[k]
        report = {**report, "train_subjects": sorted(
            str(s) for s in ds.meta["subject"].iloc[fold.train].unique())}
        store_fold(i, fold, score_fold(cfg, ds, fold, seed, chash, model, report,
                                       wall_seconds / len(eligible)), model)

    label = f"{cfg.model.name} seed {seed} folds {eligible[0][0]}-{eligible[-1][0]}/{n_folds}"
    try:
        with fold_label(label):
            train_models_together([build() for _ in eligible], ds.X, ds.y,
                                  [(fold.train, fold.valid) for _, fold in eligible], signal,
                                  [seed] * len(eligible), mode == "exact", on_done)
    except NotStackable as err:
        logger.info("[%s] trainer.fold_parallel=%s: training fold after fold (%s)",
                    cfg.model.name, trainer.fold_parallel, err)
        return pending
    return [(i, fold) for i, fold in pending if len(fold.calib)]


def parse_fold_shard(value: Any) -> tuple[int, int] | None:
    """Return ``(k, n)`` from a ``fold_shard`` setting ``[k, n]`` (None: every fold).

    A job with shard ``[k, n]`` runs folds ``k, k + n, k + 2n, ...`` (0-based) of each seed,
    so ``n`` jobs with shards ``[0, n]`` ... ``[n - 1, n]`` share a protocol's folds (e.g.
    one process per CPU core). The shard is not part of a result's identity: the rows are
    the ones a single job would write.
    """
    if value is None:
        return None
    items = list(value) if isinstance(value, list | tuple) or OmegaConf.is_list(value) else []
    ok = (len(items) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                  for v in items) and 0 <= items[0] < items[1])
    if not ok:
        raise ValueError(f"Invalid value for the 'fold_shard' parameter. Allowed values are "
                         f"null or [k, n] with integers 0 <= k < n (e.g. [0, 2]), but got "
                         f"{value!r}.")
    return int(items[0]), int(items[1])


def run_experiment(cfg: DictConfig) -> list[dict[str, Any]]:
    """Run every (seed, fold) of the configured job that is not yet in the store.

    ``cfg`` is a configuration validated by :func:`eegbench.config.check_config` (the entry
    point and :func:`eegbench.submission.bundle.compose_config` do it once, before any data load).
    With ``fold_shard: [k, n]`` (top-level key, :func:`parse_fold_shard`) only every n-th
    fold from the k-th runs; the returned rows are still all stored rows of the job.

    Returns
    -------
    list of dict
        The rows of this job (new and previously stored), for a summary.
    """
    store = ResultStore(cfg.paths.results_dir)
    store.check_writable()  # a read-only store fails now, not after the first fold
    shard = parse_fold_shard(cfg.get("fold_shard"))
    ds = load_dataset(cfg)
    check_subject_classes(ds)  # never test a subject on one class only
    fingerprints = row_fingerprints(cfg, ds)
    data_quality = summarize_quality(ds.info.get("quality") or [])
    chash = identity_hash(cfg)
    plan = protocol_plan(cfg, ds)
    ds, name, protocol, calibration = plan.ds, plan.name, plan.splitter_params, plan.calibration
    probe_layers, probe_max_features = plan.probe_layers, plan.probe_max_features
    if probe_layers and not hasattr(model_builder(cfg)(), "module"):  # torch networks only
        logger.info("%s has no torch module: layer_probe ignored", cfg.model.name)
        probe_layers = False
    cache = BaseModelCache()
    rows: list[dict[str, Any]] = []
    n_new = n_skipped = 0

    def store_fold(i: int, fold: Fold, row: ResultRow, model: Any, tally: _SeedTally) -> None:
        """Write a fold's row (its layer-probe rows first) and log it with an ETA."""
        nonlocal n_new
        row = dataclasses.replace(row, **fingerprints, data_quality=data_quality)
        module = torch_module(model)
        if probe_layers and module is not None:
            # probe rows first: a stored fold row then implies its probes are stored
            for probe_row in layer_probe_rows(row, module, ds.X, ds.y, fold.train,
                                              fold.test, probe_max_features):
                store.write(probe_row)
        store.write(row)
        n_new += 1
        tally.n_done += 1
        logger.info("[%s seed %s] fold %d/%d %s: balanced_accuracy %.3f (%.1f s; %d/%d done, "
                    "ETA %s)", cfg.model.name, tally.seed, i, tally.n_folds, fold.name,
                    row.metrics["balanced_accuracy"], row.train_seconds, tally.n_done,
                    tally.n_pending, tally.eta())

    for seed in cfg.seeds:
        splitter = make_splitter(name, seed=int(seed), **protocol)
        folds = plan.alignment.drop_excluded(list(splitter.split(split_meta(ds))))
        pending: list[tuple[int, Fold]] = []
        for i, fold in enumerate(folds, 1):
            if shard is not None and (i - 1) % shard[1] != shard[0]:
                continue  # another job's share of the folds
            identity = {"dataset": cfg.dataset.name, "task": cfg.dataset.task, "protocol": name,
                        "fold": fold.name, "model": cfg.model.name,
                        "adaptation": adaptation_of(cfg), "seed": int(seed),
                        "shots": fold.shots, "config_hash": chash, **fingerprints}
            key = row_key(identity)
            probe_key = row_key({**identity, "adaptation": FIRST_PROBE_ADAPTATION})
            if store.has(key) and (not probe_layers or store.has(probe_key)):
                n_skipped += 1
                logger.info("[%s seed %s] fold %d/%d %s: already in the store, skipped",
                            cfg.model.name, seed, i, len(folds), fold.name)
                continue
            pending.append((i, fold))
        # a frozen encoder's random initialisation depends on the seed; few-shot folds do
        # not use fold-invariant features
        features = (fold_invariant_features(cfg, ds, int(seed))
                    if any(not len(fold.calib) for _, fold in pending) else None)
        if pending:
            features = plan.alignment.recentre_features(features, ds.meta, cfg.model.name)
        tally = _SeedTally(int(seed), len(folds), len(pending))
        writer = functools.partial(store_fold, tally=tally)
        rest = fit_folds_in_parallel(cfg, ds, pending, int(seed), chash, features, len(folds),
                                     writer)
        for i, fold in rest:
            with fold_label(f"{cfg.model.name} seed {seed} fold {i}/{len(folds)} {fold.name}"):
                row, model = fit_and_score(cfg, ds, fold, int(seed), chash, calibration,
                                           cache, features)
            writer(i, fold, row, model)
    if cfg.get("audit"):
        run_audit(cfg, ds, store, name, protocol, chash, calibration)
    frame = store.to_frame()
    if len(frame):
        mine = frame[(frame["config_hash"] == chash) & frame["seed"].isin(list(cfg.seeds))
                     & (frame["adaptation"] == adaptation_of(cfg))]
        for name_fp, value in fingerprints.items():  # rows of this data and code only
            mine = mine[mine[name_fp].isna()] if value is None else mine[mine[name_fp] == value]
        rows = mine.to_dict("records")
        scores = mine["metric.balanced_accuracy"].to_numpy(dtype=float)
        # sample standard deviation (ddof=1), the convention of the leaderboard tables
        spread = np.nanstd(scores, ddof=1) if np.isfinite(scores).sum() > 1 else 0.0
        logger.info("%s on %s (%s): %d new fold(s), %d skipped; balanced accuracy %.3f +- %.3f "
                    "(mean +- sample SD) over %d fold(s). Results: %s", cfg.model.name,
                    cfg.dataset.name, name, n_new, n_skipped, np.nanmean(scores), spread,
                    len(scores), Path(cfg.paths.results_dir).resolve())
    return rows


def run_audit(cfg: DictConfig, ds: WindowsDataset, store: ResultStore, name: str,
              protocol: dict[str, Any], chash: str, calibration: CalibrationSpec) -> int:
    """Run the leakage-audit variants of the configured protocol (``+audit=leakage``).

    Each variant reuses the protocol's folds (:mod:`eegbench.protocols.audit`); its rows have
    protocol ``<name>~leaky:<variant>`` (or ``~clean:``), a config hash that includes the
    variant, and ``fit_report`` entries naming the clean rows they pair with. Returns the
    number of new rows.
    """
    import dataclasses

    from eegbench.protocols.audit import expand, variant_fold, variant_windows

    audit = OmegaConf.to_container(cfg.audit, resolve=True)
    n_folds = int(audit.get("n_folds", 5))
    is_deep = hasattr(model_builder(cfg)(), "module")
    identity = identity_config(cfg)
    fingerprints = row_fingerprints(cfg, ds)
    n_new = 0
    for variant in expand(list(audit.get("variants") or [])):
        if variant.deep_only and not is_deep:
            logger.info("leakage audit: %s skipped for %s (no validation data used by classical "
                        "models, so the leak cannot act)", variant.name, cfg.model.name)
            continue
        vhash = config_hash({**identity, "audit": variant.name})
        label = f"{name}{variant.label}"
        pair = variant.clean_pair
        clean_hash = (config_hash({**identity, "audit": pair}) if pair else chash)
        clean_protocol = f"{name}~clean:{pair}" if pair else name
        for seed in cfg.seeds:
            meta = split_meta(ds)
            folds = list(make_splitter(name, seed=int(seed), **protocol).split(meta))
            for i, clean_fold in enumerate(folds):
                fold = variant_fold(variant, clean_fold, meta, int(seed), i, n_folds)
                key = row_key({"dataset": cfg.dataset.name, "task": cfg.dataset.task,
                               "protocol": label, "fold": fold.name, "model": cfg.model.name,
                               "adaptation": adaptation_of(cfg), "seed": int(seed),
                               "shots": fold.shots, "config_hash": vhash, **fingerprints})
                if store.has(key):
                    continue
                vds = WindowsDataset(variant_windows(variant, ds.X, fold), ds.meta, ds.info)
                row, _ = fit_and_score(cfg, vds, fold, int(seed), vhash, calibration)
                report = {**(row.fit_report or {}), "audit_variant": variant.name,
                          "clean_config_hash": clean_hash, "clean_protocol": clean_protocol}
                config = {**(row.config or {}), "audit": variant.name}
                store.write(dataclasses.replace(row, protocol=label, fit_report=report,
                                                config=config, **fingerprints))
                n_new += 1
                logger.info("[%s audit %s seed %s] fold %s: balanced_accuracy %.3f",
                            cfg.model.name, variant.name, seed, fold.name,
                            row.metrics["balanced_accuracy"])
    return n_new
