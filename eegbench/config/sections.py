"""The section models of the typed job spec (pydantic, ``extra="forbid"``, strict types).

The groups whose fields are the parameters of the code that consumes them are derived from
that code, so they cannot drift from it: ``trainer`` and ``model.recipe`` from
:class:`eegbench.training.loop.TrainerSpec`, ``preprocess`` from
:class:`eegbench.data.standardize.PreprocessSpec`, each protocol from its splitter's signature
(:func:`eegbench.protocols.splitters.splitter_classes`) and ``protocol.calibrate`` from
:class:`eegbench.adaptation.calibration.CalibrationSpec`. The other groups are written out.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from eegbench.adaptation.calibration import CalibrationSpec
from eegbench.config.errors import DEVICE_PATTERN, NAME_PATTERN
from eegbench.data.standardize import PreprocessSpec
from eegbench.leaderboard.suite_spec import Suite
from eegbench.protocols.splitters import splitter_classes
from eegbench.training.loop import TrainerSpec


class _Section(BaseModel):
    """A configuration group: unknown keys are errors, values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def type_hints(obj: Any) -> dict[str, Any]:
    """Evaluated annotations of a class or callable ({} for names that do not resolve)."""
    try:
        return typing.get_type_hints(obj)
    except (NameError, TypeError):
        return {}


def _optional(annotation: Any) -> Any:
    return annotation | None


def _from_dataclass(name: str, cls: type, *, optional: bool,
                    choices: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None
                    = None) -> type[_Section]:
    """Return a section model with the fields of dataclass ``cls``.

    ``optional``: every field may be null (null keeps the consumer's default). ``choices``
    replaces a field's annotation (e.g. by a ``Literal``); ``extra`` adds fields.
    """
    hints = type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        annotation = (choices or {}).get(f.name, hints.get(f.name, Any))
        default = None if optional else (f.default if f.default is not dataclasses.MISSING
                                         else None)
        fields[f.name] = (_optional(annotation) if optional else annotation, default)
    for key, (annotation, default) in (extra or {}).items():
        fields[key] = (annotation, default)
    return create_model(name, __base__=_Section, **fields)


#: Values of the trainer fields that are enumerations (eegbench/training/optim.py,
#: eegbench/training/loop.py).
TRAINER_CHOICES = {
    "optimizer": Literal["adamw", "adam"],
    "schedule": Literal["constant", "cosine", "onecycle"],
    "class_weighting": Literal["balanced", "none"],
    "select_on": Literal["loss", "roc_auc"],
    "device": Annotated[str, Field(pattern=DEVICE_PATTERN)],
}

#: ``trainer`` group: every :class:`TrainerSpec` field, null = keep the model's recipe.
TrainerSection = _from_dataclass("TrainerSection", TrainerSpec, optional=True,
                                 choices=TRAINER_CHOICES)
#: ``model.recipe``: the original authors' optimisation settings (TrainerSpec fields).
RecipeSection = _from_dataclass("RecipeSection", TrainerSpec, optional=True,
                                choices=TRAINER_CHOICES)
#: ``preprocess`` group: every :class:`PreprocessSpec` field (``name`` is informative).
PreprocessSection = _from_dataclass(
    "PreprocessSection", PreprocessSpec, optional=False,
    choices={"backend": Literal["mne", "gpu_fused"],
             "device": Annotated[str, Field(pattern=DEVICE_PATTERN)]},
    extra={"name": (str | None, None)})
#: ``protocol.calibrate``: the few-shot calibration of a cross-subject deep model.
CalibrateSection = _from_dataclass("CalibrateSection", CalibrationSpec, optional=False)


class ExperimentSpec(_Section):
    """``experiment``: what an ``exp/`` file declares about itself.

    ``name`` names the results store (``<paths.runs_dir>/<name>/results``) and tables;
    ``command`` is the subcommand that runs it (``run``, ``pretrain`` or ``study``).
    """

    name: Annotated[str, Field(pattern=NAME_PATTERN)] = "default"
    command: Literal["run", "pretrain", "study"] = "run"


SubjectIds = list[str | int] | None


def _check_subjects(value: Any, key: str) -> Any:
    if value is None:
        return None
    if (not isinstance(value, list) or not value
            or any(isinstance(s, bool) or not isinstance(s, str | int) for s in value)):
        raise ValueError(f"Invalid value for the '{key}' parameter. Allowed values are null "
                         "(every subject found under paths.data_root) or a non-empty list of "
                         f"subject ids (e.g. {key}=[00,01,02]), but got {value!r}.")
    return value


class MoabbSpec(_Section):
    """``dataset.moabb``: a MOABB dataset and paradigm, read by MOABB."""

    dataset: str
    paradigm: str
    dataset_params: dict[str, Any] | None = None
    paradigm_params: dict[str, Any] | None = None


class HubSpec(_Section):
    """``dataset.hub``: a windowed braindecode dataset on the Hugging Face Hub, pinned.

    Read by :mod:`eegbench.data.bridges.hub`; ``revision`` (a full commit) is checked there,
    before any request. ``split`` records the published split as its publisher names it
    (documentation; the protocol reads ``dataset.fixed_split``).
    """

    repo_id: str
    revision: str | None = None
    classes: list[str] | None = None
    columns: dict[str, str] | None = None
    task_type: Literal["classification", "regression"] = "classification"
    split: dict[str, Any] | None = None


class FixedSplitSpec(_Section):
    """``dataset.fixed_split``: published train / valid / test lists and their source.

    ``key`` names the metadata column the lists hold (default ``subject``); ``valid_fraction``
    (instead of ``valid``) draws that share of the training subjects for validation.
    """

    source: str
    key: str = "subject"
    train: list[str | int | bool]
    valid: list[str | int | bool] | None = None
    valid_fraction: float | None = None
    test: list[str | int | bool]


class DatasetSpec(_Section):
    """``dataset`` group: a recipe (or a MOABB or hub dataset), its task and the subjects used."""

    name: str
    task: str
    recipe: str | None = None
    moabb: MoabbSpec | None = None
    hub: HubSpec | None = None
    subjects: SubjectIds = None
    fixed_split: FixedSplitSpec | None = None

    @field_validator("subjects", mode="before")
    @classmethod
    def _subjects(cls, value: Any) -> Any:
        return _check_subjects(value, "dataset.subjects")


class ChannelsSpec(_Section):
    """``model.channels``: a fixed channel set the model needs (:mod:`eegbench.data.channels`)."""

    names: list[str]
    policy: Literal["interpolate", "zero", "error"] = "interpolate"
    montage: str = "colin27_1005"


class DeviationSpec(_Section):
    """One declared difference from the original authors' recipe (``model.deviations``)."""

    what: str
    original: str
    ours: str
    source: str


class ModelSpec(_Section):
    """``model`` group: a registered model, its factory parameters and its adaptation."""

    name: str
    params: dict[str, Any] | None = None
    adaptation: str = "from_scratch"
    channels: ChannelsSpec | None = None
    recipe: RecipeSection | None = None  # type: ignore[valid-type]
    hp_source: str | None = None
    #: Documentation only (rendered by eegbench.leaderboard.deviations; not hashed).
    deviations: list[DeviationSpec] | None = None


class PathsSpec(_Section):
    """``paths`` group: data root, caches, run logs and the results store."""

    data_root: str
    cache_dir: str
    runs_dir: str
    results_dir: str
    leaderboard_dir: str = "leaderboard"


class AuditSpec(_Section):
    """``audit`` group (``+audit=leakage``): leaky variants of the configured protocol."""

    name: str = "leakage"
    variants: list[str] = Field(default_factory=list)
    n_folds: int = 5


class HpSearchSpec(_Section):
    """``hp_search``: nested selection of model parameters on the training subjects."""

    grid: dict[str, list[Any]]
    inner_folds: Annotated[int, Field(ge=2)] = 3


class SubmissionConfiguration(_Section):
    """One official configuration of a submission: a name and its overrides."""

    name: str
    overrides: list[str]


class SubmissionSpec(_Section):
    """``submission`` group: the configurations a submission runs."""

    configurations: list[SubmissionConfiguration]


class PretrainDataset(_Section):
    """One entry of ``pretrain.datasets``: a recipe and optional subjects."""

    recipe: str
    subjects: SubjectIds = None

    @field_validator("subjects", mode="before")
    @classmethod
    def _subjects(cls, value: Any) -> Any:
        return _check_subjects(value, "pretrain.datasets[].subjects")


class PretrainSpec(_Section):
    """``pretrain`` block (``eegbench pretrain +exp=pretrain``): self-supervised pretraining."""

    datasets: list[PretrainDataset | str]
    model: Literal["cbramod", "brain_tokenizer"] = "cbramod"
    architectures: dict[str, dict[str, Any]] = Field(default_factory=dict)
    arch_params: dict[str, Any] = Field(default_factory=dict)
    objective: str = "masked_patch"
    objective_params: dict[str, Any] = Field(default_factory=dict)
    min_patches: int | None = None
    mask_ratio: float = 0.5
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.05
    max_steps: int = 400
    save_at_steps: list[int] = Field(default_factory=list)
    max_minutes: float = 4.0
    log_every: int = 20
    seed: int = 0
    num_threads: int | None = None
    output: str


class StudySpec(_Section):
    """``study`` block (``eegbench study +exp=objective_study``)."""

    kind: Literal["objective", "scale"]
    objectives: list[str] = Field(default_factory=list)
    objective: str | None = None
    sizes: dict[str, dict[str, Any]] | None = None
    steps: list[int]
    adaptations: list[str]
    corpus: list[str] | None = None
    min_patches: int | None = None
    max_minutes_per_objective: float = 10.0
    reuse_only: bool = False
    output_dir: str


def _protocol_section(name: str, splitter: type) -> type[_Section]:
    """Return the section model of protocol ``name``: its splitter's parameters and options."""
    hints = type_hints(splitter.__init__)
    fields: dict[str, Any] = {"name": (Literal[name], name)}  # type: ignore[valid-type]
    for param in inspect.signature(splitter).parameters.values():
        if param.name == "seed" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue  # the seed comes from the top-level seeds
        annotation = hints.get(param.name, Any)
        fields[param.name] = (_lax_sequences(annotation),
                              None if param.default is param.empty else param.default)
    # Options read by the job around the splitter (eegbench/evaluation/plan.py, protocol_plan).
    fields["align"] = (Literal["euclidean", "riemannian_recentre", "riemannian"] | None, None)
    fields["align_reference"] = (Literal["all", "calibration"], "all")
    fields["align_calibration_s"] = (float, 60.0)
    fields["layer_probe"] = (bool, False)
    fields["layer_probe_max_features"] = (int, 512)
    if "mode" in fields:  # protocols that calibrate on the test subject's first trials
        fields["calibrate"] = (CalibrateSection | None, None)
    return create_model(f"{name.title().replace('_', '')}Protocol", __base__=_Section,
                        **fields)


def _lax_sequences(annotation: Any) -> Any:
    """``Sequence[X]`` / ``Mapping`` annotations as the list / dict the config gives."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return Union[tuple(_lax_sequences(a) for a in args)]  # noqa: UP007
    if origin in (Sequence, list, tuple) or annotation is Sequence:
        return list[args[0]] if args else list[Any]
    if origin is Mapping or annotation is Mapping:
        return dict[str, Any]
    return annotation


#: Protocol name -> its section model.
PROTOCOL_SECTIONS: dict[str, type[_Section]] = {
    name: _protocol_section(name, cls) for name, cls in splitter_classes().items()}

ProtocolSection = Annotated[Union[tuple(PROTOCOL_SECTIONS.values())],  # noqa: UP007
                            Field(discriminator="name")]


class JobSpec(_Section):
    """The whole job: every group of the composed configuration, typed and validated."""

    experiment: ExperimentSpec = Field(default_factory=ExperimentSpec)
    dataset: DatasetSpec
    preprocess: PreprocessSection  # type: ignore[valid-type]
    model: ModelSpec
    protocol: ProtocolSection  # type: ignore[valid-type]
    trainer: TrainerSection  # type: ignore[valid-type]
    paths: PathsSpec
    seeds: list[int]
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    feature_cache: bool = True
    #: [k, n]: this job runs folds k, k + n, ... (eegbench.evaluation.job.parse_fold_shard)
    fold_shard: list[int] | None = None
    #: The suite the run is part of (``+suite=<name>``, conf/suite); recorded in each row as
    #: ``<name>@<version>``, not part of a result's identity.
    suite: Suite | None = None
    audit: AuditSpec | None = None
    hp_search: HpSearchSpec | None = None
    submission: SubmissionSpec | None = None
    pretrain: PretrainSpec | None = None
    study: StudySpec | None = None

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, value: Any) -> Any:
        if (not isinstance(value, list) or not value
                or any(isinstance(s, bool) or not isinstance(s, int) for s in value)):
            raise ValueError("Invalid value for the 'seeds' parameter. Allowed values are "
                             "non-empty lists of integers (e.g. seeds=[0] or seeds=[0,1,2]), "
                             f"but got {value!r}.")
        return value

    @field_validator("fold_shard", mode="before")
    @classmethod
    def _fold_shard(cls, value: Any) -> Any:
        if value is not None and (
                not isinstance(value, list) or len(value) != 2
                or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
                or not 0 <= value[0] < value[1]):
            raise ValueError("Invalid value for the 'fold_shard' parameter. Allowed values are "
                             "null or [k, n] with integers 0 <= k < n (e.g. fold_shard=[0,2]), "
                             f"but got {value!r}.")
        return value
