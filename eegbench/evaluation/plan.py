"""What a job sets up before its folds: the windows, the protocol, the model builder.

Each function reads the typed job (:class:`eegbench.config.Job`): the dataset it loads
(:func:`load_dataset`), the protocol's splitter parameters and fold-side options
(:func:`protocol_plan`), a builder of fresh models with the job's optimisation settings
(:func:`model_builder`) and the fold-invariant features it can share between folds
(:func:`fold_invariant_features`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eegbench.adaptation.calibration import CalibrationSpec
from eegbench.config import Job
from eegbench.data.cache import WindowsDataset, load_windows
from eegbench.data.channels import harmonize_from_config
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.features.precompute import precompute_fold_invariant
from eegbench.models.base import BenchmarkModel, SignalSpec, build_model
from eegbench.protocols.alignment import AlignmentSpec, SubjectAlignment
from eegbench.protocols.alignment import prepare as prepare_alignment
from eegbench.protocols.splitters import Fold, make_splitter


def load_dataset(job: Job) -> WindowsDataset:
    """Load (or build and cache) the standardized windows named by the job's ``dataset``."""
    spec = job.spec
    preprocess = PreprocessSpec.from_config(job.section("preprocess"))
    subjects = spec.dataset.subjects
    subjects = None if subjects is None else [str(s) for s in subjects]
    channels = job.section("model").get("channels")
    paths = spec.paths
    if spec.dataset.moabb is not None:  # a MOABB dataset + paradigm (no recipe)
        from eegbench.data.bridges.moabb import load_moabb

        ds = load_moabb(job.section("dataset")["moabb"], preprocess, Path(paths.cache_dir),
                        subjects, name=spec.dataset.name)
        return harmonize_from_config(ds, channels)
    if spec.dataset.hub is not None:  # a pinned hub dataset (braindecode's hub format)
        from eegbench.data.bridges.hub import load_hub

        ds = load_hub(job.section("dataset")["hub"], Path(paths.cache_dir), subjects,
                      name=spec.dataset.name)
        return harmonize_from_config(ds, channels)
    recipe = load_recipe(spec.dataset.recipe, task=spec.dataset.task)
    ds = load_windows(recipe, Path(paths.data_root), preprocess, Path(paths.cache_dir),
                      subjects=subjects)
    # A model that needs a fixed channel set declares model.channels (names, policy, montage).
    return harmonize_from_config(ds, channels)


def split_meta(ds: WindowsDataset) -> Any:
    """Return the metadata table the splitters see: ``ds.meta`` plus ``duration_s``.

    ``duration_s`` (window length in seconds) lets within-subject protocols keep a gap of one
    window between training and test windows.
    """
    if "duration_s" in ds.meta:
        return ds.meta
    return ds.meta.assign(duration_s=ds.X.shape[-1] / float(ds.info["sfreq"]))


def adaptation_of(job: Job) -> str:
    """Return the configured model's adaptation (``from_scratch`` when unset)."""
    return str(job.spec.model.adaptation)


def trainer_settings(job: Job) -> dict[str, Any]:
    """Return the optimisation settings: the model's ``recipe`` under the ``trainer`` group.

    Precedence: built-in defaults (:class:`eegbench.training.loop.TrainerSpec`) < the model
    yaml's ``recipe`` (the original authors' settings) < every non-null key of the ``trainer``
    group (``trainer=fast``, or ``trainer.max_epochs=10`` on the command line).
    """
    recipe = job.section("model").get("recipe") or {}
    trainer = job.section("trainer") or {}
    return {**dict(recipe), **{k: v for k, v in dict(trainer).items() if v is not None}}


def model_builder(job: Job, fixed_budget: bool = False,
                  overrides: dict[str, Any] | None = None) -> Callable[[], BenchmarkModel]:
    """Return a function that builds a fresh, unfitted instance of the configured model.

    ``fixed_budget``: deep models train for their whole epoch budget without early stopping
    (``patience: 0``), e.g. few-shot training on the shots alone. ``overrides`` replace model
    parameters (nested hyperparameter selection).
    """
    model = job.section("model")
    params = {**dict(model.get("params") or {}), **dict(overrides or {})}
    trainer = trainer_settings(job)
    if fixed_budget:
        trainer["patience"] = 0
    params.setdefault("trainer", trainer)
    params.setdefault("adaptation", adaptation_of(job))
    return lambda: build_model(model["name"], **params)


def hp_source_of(job: Job, fit_report: dict[str, Any] | None = None) -> str:
    """Return how the model's hyperparameters were decided (the row's ``hp_source``).

    ``nested: ...`` when the fit selected them by nested cross-validation on the training
    subjects (its report carries ``hp_search``), else ``a priori: ...`` with the model
    config's ``hp_source`` note, its recipe's ``recipe_source`` citation, or the config file.
    """
    search = (fit_report or {}).get("hp_search")
    if isinstance(search, dict):
        return f"nested: {search.get('inner', 'inner split of the training subjects')}"
    model = job.section("model")
    recipe = model.get("recipe") or {}
    note = model.get("hp_source") or (recipe.get("recipe_source")
                                      if isinstance(recipe, dict) else None)
    return f"a priori: {note}" if note else f"a priori: conf/model/{model['name']}.yaml"


def uses_validation(model: BenchmarkModel) -> bool:
    """True if ``model`` selects epochs on validation subjects (deep models).

    Models that do not (classical pipelines) are trained on every non-test subject.
    """
    return bool(getattr(model, "uses_validation", model.family != "classical"))


def fold_invariant_features(job: Job, ds: WindowsDataset,
                            seed: int | None = None) -> np.ndarray | None:
    """Return the configured model's fold-invariant features of all windows, or None.

    Computed once per (windows, transform) and cached in ``<paths.cache_dir>/features/``
    (:mod:`eegbench.features.precompute`); ``feature_cache=false`` (a top-level config key,
    default true) turns this off. Models without fold-invariant steps get None.
    """
    if not job.spec.feature_cache:
        return None
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])
    return precompute_fold_invariant(model_builder(job)(), ds.X, signal,
                                     job.spec.paths.cache_dir, seed=seed)


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

    def folds(self, seed: int) -> list[Fold]:
        """Return the protocol's folds for ``seed``, calibration windows left out.

        The one place folds are drawn: the job, the leakage audit and a submission's re-fit
        all see the same folds.
        """
        splitter = make_splitter(self.name, seed=int(seed), **self.splitter_params)
        return self.alignment.drop_excluded(list(splitter.split(split_meta(self.ds))))

    def shared_features(self, job: Job, seed: int) -> np.ndarray | None:
        """Return the fold-invariant features of the plan's windows (re-centred if aligned).

        :func:`fold_invariant_features` of the (aligned) windows, then
        :meth:`SubjectAlignment.recentre_features`; what every fold of ``seed`` without
        calibration shots is fitted on.
        """
        features = fold_invariant_features(job, self.ds, int(seed))
        return self.alignment.recentre_features(features, self.ds.meta, job.spec.model.name)


def protocol_plan(job: Job, ds: WindowsDataset) -> ProtocolPlan:
    """Read the job's ``protocol``: splitter parameters, calibration, layer probes, alignment.

    With ``protocol.align`` the returned dataset's windows are aligned per subject, label-free
    (:mod:`eegbench.protocols.alignment`); the plan's ``alignment`` drops calibration windows
    from the folds and re-centres covariance features.
    """
    protocol = job.section("protocol")
    name = protocol.pop("name")
    spec = AlignmentSpec.pop_from(protocol)
    X, alignment = prepare_alignment(ds.X, ds.meta, ds.info, spec)
    if spec.method is not None:
        ds = WindowsDataset(X, ds.meta, {**ds.info, "aligned": spec.method})
    calibration = CalibrationSpec.from_config(protocol.pop("calibrate", None))
    # Optional: also probe every layer of each fold's trained network (deep models only).
    probe_layers = bool(protocol.pop("layer_probe", False))
    probe_max_features = int(protocol.pop("layer_probe_max_features", 512))
    return ProtocolPlan(ds, name, protocol, calibration, probe_layers, probe_max_features,
                        alignment)
