"""The typed job spec: every configuration key of a job, validated once before any data load.

:func:`build_job_spec` turns the composed configuration (a plain mapping: the Hydra config
after ``OmegaConf.to_container(cfg, resolve=True)``) into a :class:`JobSpec`. Every group is a
pydantic model with ``extra="forbid"`` and strict types, so a misspelled key (``+trainer.max_
epoch=3``, ``+dataset.subjets=[...]``), a value of the wrong type (``trainer.max_epochs=ten``,
``seeds=abc``) or a value outside an enumeration is a :class:`ConfigError` naming the key, the
allowed keys or values and the closest match, before anything is loaded. The checks that need
the registries follow: the model name, its parameters against its factory's signature (names
and annotated types, e.g. pyriemann's covariance estimators), the adaptation, the recipe name
(with "did you mean"), the protocol's own parameters and the audit variants.

The groups whose fields are the parameters of the code that consumes them are derived from
that code, so the spec cannot drift from it: ``trainer`` and ``model.recipe`` from
:class:`eegbench.train.TrainerSpec`, ``preprocess`` from
:class:`eegbench.data.standardize.PreprocessSpec`, each protocol from its splitter's signature
and ``protocol.calibrate`` from :class:`eegbench.protocols.calibration.CalibrationSpec`.

Subject ids are normalised to the recipe's own spelling (``[0, 1]`` and ``[00, 01]`` are
``["00", "01"]``), sorted and deduplicated, so that one set of subjects has one identity.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    field_validator,
)

from eegbench.checks import check_choice
from eegbench.data.recipe import RecipeError, load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.data.subjects import normalise_subject_ids, pinned_subject_ids
from eegbench.models.base import (
    RUNNER_PARAMS,
    accepted_params,
    build_model,
    check_adaptation,
    check_model_params,
    load_builtin_models,
)
from eegbench.protocols.audit import NOT_RUNNABLE, VARIANTS
from eegbench.protocols.calibration import CalibrationSpec
from eegbench.protocols.splitters import make_splitter, splitter_classes
from eegbench.resources import recipes_dir
from eegbench.train import TrainerSpec

#: The subcommands that run a job from this configuration.
COMMANDS = ("run", "pretrain", "study")


class ConfigError(ValueError):
    """An invalid job configuration (the message names the key and what is allowed)."""


class _Section(BaseModel):
    """A configuration group: unknown keys are errors, values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --------------------------------------------------------------------------------- helpers
def _hints(obj: Any) -> dict[str, Any]:
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
    hints = _hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        annotation = (choices or {}).get(f.name, hints.get(f.name, Any))
        default = None if optional else (f.default if f.default is not dataclasses.MISSING
                                         else None)
        fields[f.name] = (_optional(annotation) if optional else annotation, default)
    for key, (annotation, default) in (extra or {}).items():
        fields[key] = (annotation, default)
    return create_model(name, __base__=_Section, **fields)


#: Devices a torch computation can run on.
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"
#: Experiment names (a folder name under paths.runs_dir).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
#: How the messages describe the values a pattern allows.
PATTERN_NAMES = {DEVICE_PATTERN: "'auto', 'cpu', 'cuda' or 'cuda:<index>'",
                 NAME_PATTERN: "names of letters, digits, '_', '.' and '-' (a folder name)"}

#: Values of the trainer fields that are enumerations (eegbench/adaptation/optim.py,
#: eegbench/train.py).
TRAINER_CHOICES = {
    "optimizer": Literal["adamw", "adam"],
    "schedule": Literal["constant", "cosine", "onecycle"],
    "class_weighting": Literal["balanced", "none"],
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


# -------------------------------------------------------------------------------- sections
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


class FixedSplitSpec(_Section):
    """``dataset.fixed_split``: published train / valid / test subject lists and their source."""

    source: str
    train: list[str | int]
    valid: list[str | int]
    test: list[str | int]


class DatasetSpec(_Section):
    """``dataset`` group: a recipe (or a MOABB dataset), its task and the subjects used."""

    name: str
    task: str
    recipe: str | None = None
    moabb: MoabbSpec | None = None
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


class ModelSpec(_Section):
    """``model`` group: a registered model, its factory parameters and its adaptation."""

    name: str
    params: dict[str, Any] | None = None
    adaptation: str = "from_scratch"
    channels: ChannelsSpec | None = None
    recipe: RecipeSection | None = None  # type: ignore[valid-type]
    hp_source: str | None = None


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
    hints = _hints(splitter.__init__)
    fields: dict[str, Any] = {"name": (Literal[name], name)}  # type: ignore[valid-type]
    for param in inspect.signature(splitter).parameters.values():
        if param.name == "seed" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue  # the seed comes from the top-level seeds
        annotation = hints.get(param.name, Any)
        fields[param.name] = (_lax_sequences(annotation),
                              None if param.default is param.empty else param.default)
    # Options read by the job around the splitter (eegbench/run.py, protocol_plan).
    fields["align"] = (Literal["euclidean", "riemannian"] | None, None)
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


# ---------------------------------------------------------------------- error formatting
def _closest(word: str, options: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    if not close:  # case slips (c -> C) are the commonest typos of short keys
        lower = {str(o).lower(): str(o) for o in options}
        close = [lower[c] for c in difflib.get_close_matches(str(word).lower(), list(lower),
                                                             n=1)]
    return close[0] if close else None


def _member(annotation: Any, tag: Any = None) -> type[BaseModel] | None:
    """The section model inside ``annotation`` (Optional, list or union member).

    ``tag`` picks a union member: its class name (pydantic's tag for plain unions) or the
    default of its ``name`` field (the protocol name of a discriminated union).
    """
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        name = annotation.model_fields.get("name")
        if tag is None or tag == annotation.__name__ or (name is not None
                                                         and name.default == tag):
            return annotation
        return None
    for arg in typing.get_args(annotation):
        found = _member(arg, tag)
        if found is not None:
            return found
    return None


def _locate(loc: tuple[Any, ...], extra: bool) -> tuple[str, type[BaseModel] | None, Any]:
    """Return the dotted key, the section model holding it and the field's annotation.

    ``extra``: the last item of ``loc`` is an unknown key (not a field). Items that are neither
    fields nor list indices are union tags and are skipped.
    """
    parts: list[str] = []
    model: type[BaseModel] | None = JobSpec
    container: type[BaseModel] | None = None
    annotation: Any = None
    for item in loc[:-1] if extra else loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif model is not None and item in model.model_fields:
            parts.append(str(item))
            container, annotation = model, model.model_fields[item].annotation
            model = _member(annotation)
        elif annotation is not None and _member(annotation, item) is not None:
            model = _member(annotation, item)
    if extra:
        parts.append(str(loc[-1]))
        container = model
    return ".".join(parts).replace(".[", "["), container, annotation


def _describe(annotation: Any) -> str:
    """Readable name of an annotation: ``int or null``, ``list of int``, ..."""
    if annotation is None or annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return _describe(args[0])
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin in (list, tuple, Sequence):
        return f"list of {_describe(args[0])}" if args else "list"
    if origin in (dict, Mapping):
        return "mapping"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _section_name(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def format_validation_error(err: ValidationError) -> str:
    """Turn a pydantic error of :class:`JobSpec` into MNE-style messages, one per problem."""
    unknown: dict[str, tuple[list[str], list[str]]] = {}
    messages: list[str] = []
    seen: set[str] = set()
    for e in err.errors():
        kind = e["type"]
        key, container, annotation = _locate(tuple(e["loc"]), kind == "extra_forbidden")
        if kind == "extra_forbidden":
            section = _section_name(key)
            allowed = sorted(container.model_fields) if container is not None else []
            unknown.setdefault(section, ([], allowed))[0].append(key.rsplit(".", 1)[-1])
            continue
        field_key = key
        if field_key in seen:
            continue  # a union reports one error per member: keep the first
        seen.add(field_key)
        value = e.get("input")
        if kind == "value_error":
            messages.append(str(e["ctx"]["error"]))
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            allowed = sorted(PROTOCOL_SECTIONS)
            messages.append(_choice_message(f"{field_key}.name", e.get("ctx", {}).get("tag"),
                                            allowed))
        elif kind == "literal_error":
            choices = list(typing.get_args(_literal_of(annotation)))
            messages.append(_choice_message(field_key, value, choices))
        elif kind == "missing":
            messages.append(f"Missing value for the '{field_key}' parameter: it is required "
                            f"({_describe(annotation)}).")
        elif kind == "string_pattern_mismatch":
            allowed = PATTERN_NAMES.get(e["ctx"]["pattern"], f"matching {e['ctx']['pattern']!r}")
            messages.append(f"Invalid value for the '{field_key}' parameter. Allowed values are "
                            f"{allowed}, but got {value!r}.")
        elif kind in ("greater_than_equal", "greater_than", "too_short"):
            messages.append(f"Invalid value for the '{field_key}' parameter: {e['msg']}, "
                            f"but got {value!r}.")
        else:
            messages.append(f"Invalid value for the '{field_key}' parameter: expected "
                            f"{_describe(annotation)}, but got {value!r} "
                            f"({type(value).__name__}).")
    for section, (keys, allowed) in unknown.items():
        where = f"the '{section}' section" if section else "the top level of the config"
        hints = "".join(f" Did you mean {c!r} for {k!r}?" for k in sorted(keys)
                        if (c := _closest(k, allowed)))
        messages.insert(0, f"Invalid key(s) {sorted(keys)} in {where}. Allowed keys are "
                           f"{allowed}.{hints}")
    return _join(messages)


def _literal_of(annotation: Any) -> Any:
    if typing.get_origin(annotation) is Literal:
        return annotation
    for arg in typing.get_args(annotation):
        found = _literal_of(arg)
        if found is not None:
            return found
    return None


def _choice_message(key: str, value: Any, allowed: Sequence[Any]) -> str:
    close = _closest(str(value), [str(a) for a in allowed])
    hint = f" Did you mean {close!r}?" if close else ""
    return (f"Invalid value for the '{key}' parameter. Allowed values are {list(allowed)}, "
            f"but got {value!r}.{hint}")


def _join(messages: list[str]) -> str:
    if len(messages) == 1:
        return messages[0]
    return f"{len(messages)} configuration errors:\n" + "\n".join(f"- {m}" for m in messages)


# ----------------------------------------------------------------------- semantic checks
def _recipe_names() -> list[str]:
    return sorted(p.stem for p in recipes_dir().glob("*.yaml"))


def check_recipe_name(key: str, recipe: str) -> None:
    """Raise if ``recipe`` is neither a shipped recipe nor a path to a ``.yaml`` file."""
    if Path(recipe).suffix in (".yaml", ".yml") and Path(recipe).is_file():
        return
    known = _recipe_names()
    if recipe not in known:
        close = _closest(recipe, known)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ConfigError(f"Invalid value for the '{key}' parameter. Allowed values are "
                          f"{known} or a path to an existing .yaml recipe, but got "
                          f"{recipe!r}.{hint}")


def _normalised(recipe: str, subjects: list[str | int] | None) -> list[str] | None:
    if subjects is None:
        return None
    try:
        known = pinned_subject_ids(load_recipe(recipe))
    except RecipeError as err:
        raise ConfigError(str(err)) from None
    return normalise_subject_ids(subjects, known)


def _moabb_subjects(subjects: list[str | int] | None) -> list[int | str] | None:
    """MOABB subject ids are integers: ``"01"`` and ``1`` are one subject."""
    if subjects is None:
        return None
    ids = {int(s) if str(s).isdigit() else str(s) for s in subjects}
    return sorted(ids, key=lambda s: (0, s, "") if isinstance(s, int) else (1, 0, s))


def _check_value(key: str, value: Any, annotation: Any) -> None:
    """Raise if ``value`` does not match a factory parameter's ``annotation``.

    Annotations pydantic cannot check (arbitrary classes) are not checked; a list given where
    a tuple is annotated is accepted (the config has no tuples).
    """
    try:
        adapter = TypeAdapter(annotation)
    except Exception:  # noqa: BLE001 - an annotation pydantic has no schema for
        return
    try:
        adapter.validate_python(value, strict=True)
        return
    except ValidationError as err:
        errors = err.errors()
    if all(e["type"] in ("tuple_type", "set_type", "frozen_set_type") for e in errors):
        return
    literal = _literal_of(annotation)
    if literal is not None and isinstance(value, str):
        raise ConfigError(_choice_message(key, value, list(typing.get_args(literal))))
    raise ConfigError(f"Invalid value for the '{key}' parameter: expected "
                      f"{_describe(annotation)}, but got {value!r} ({type(value).__name__}).")


def _factory_annotations(factory: Any) -> dict[str, Any]:
    """Evaluated parameter annotations of a model factory (and its base classes' __init__)."""
    targets = ([c.__dict__["__init__"] for c in reversed(factory.__mro__)
                if "__init__" in c.__dict__ and c is not object]
               if inspect.isclass(factory) else [factory])
    out: dict[str, Any] = {}
    for target in targets:  # the subclass's annotation wins
        out.update({k: v for k, v in _hints(target).items() if k != "return"})
    return out


def check_model_spec(model: ModelSpec) -> None:
    """Check the model name, its parameters (names and annotated types) and its adaptation."""
    registry = load_builtin_models()
    if model.name in ("???", ""):
        raise ConfigError("Missing value for the 'model.name' parameter: choose a model with "
                          "model=<name>, or model=plugin model.name=<registered name>.")
    if model.name not in registry and model.name.startswith("braindecode."):
        try:  # model=braindecode model.params.arch=<Name>: braindecode's own "did you mean"
            build_model("braindecode", arch=model.name.split(".", 1)[1])
        except ValueError as err:
            raise ConfigError(str(err).replace("'arch' parameter", "'model.params.arch' "
                                               "parameter")) from None
    if model.name not in registry:
        names = registry.names()
        own = [n for n in names if not n.startswith("braindecode.")]
        close = difflib.get_close_matches(model.name, names, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(f"Invalid value for the 'model.name' parameter. Allowed values are "
                          f"{own} and braindecode.<Name> for any braindecode model (`eegbench "
                          f"models list`), but got {model.name!r}.{hint}")
    try:
        factory = registry.get(model.name)
    except KeyError as err:  # an installed plugin that cannot be imported
        raise ConfigError(str(err)) from None
    params = dict(model.params or {})
    try:
        check_model_params(model.name, params)
        check_adaptation(model.adaptation)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    annotations = _factory_annotations(factory)
    allowed = accepted_params(factory)
    for key, value in params.items():
        if key in RUNNER_PARAMS:
            continue
        if key in annotations and (allowed is None or key in allowed):
            _check_value(f"model.params.{key}", value, annotations[key])
    try:  # the wrapper's own checks (head, probe, init, braindecode arch); no network is built
        build_model(model.name, **params, adaptation=model.adaptation)
    except (ValueError, RuntimeError) as err:
        raise ConfigError(f"model={model.name}: {err}") from None


def _check_protocol(spec: JobSpec) -> None:
    protocol = spec.protocol.model_dump()
    name = protocol.pop("name")
    for option in ("align", "layer_probe", "layer_probe_max_features", "calibrate"):
        protocol.pop(option, None)
    try:  # the splitter's own value checks (n_folds >= 2, shots >= 1, ...), no data needed
        make_splitter(name, seed=spec.seeds[0], **protocol)
    except ValueError as err:
        raise ConfigError(f"protocol={name}: {err}") from None


#: Top-level blocks each subcommand needs, and those it refuses (read by another one).
REQUIRED_BLOCKS = {"run": (), "pretrain": ("pretrain",), "study": ("study", "pretrain")}
FOREIGN_BLOCKS = {"run": ("pretrain", "study"), "pretrain": ("study",), "study": ()}
#: An experiment of each command, for the messages.
EXAMPLE_EXPERIMENT = {"run": "loso", "pretrain": "pretrain", "study": "objective_study"}


def _check_command(data: Mapping[str, Any], command: str) -> None:
    """Raise unless ``command`` is the one the experiment declares and its blocks fit."""
    experiment = data.get("experiment") or {}
    declared = experiment.get("command", "run") if isinstance(experiment, Mapping) else "run"
    name = experiment.get("name", "default") if isinstance(experiment, Mapping) else "default"
    if declared == "run" != command and name == "default":  # no +exp: an evaluation job
        raise ConfigError(
            f"`eegbench {command}` runs an experiment that declares experiment.command="
            f"{command}: choose one with +exp=<name>, e.g. `eegbench {command} +exp="
            f"{EXAMPLE_EXPERIMENT[command]}` (`eegbench --help` lists the experiments).")
    if declared in COMMANDS and declared != command:
        jobs = {"run": "an evaluation job", "pretrain": "a pretraining job", "study": "a study"}
        raise ConfigError(
            f"The experiment '{name}' is {jobs[declared]} (experiment.command={declared}): run "
            f"it with `eegbench {declared} +exp={name}` (and your other overrides), not with "
            f"`eegbench {command}`.")
    for block in FOREIGN_BLOCKS[command]:
        if data.get(block) is not None:
            owner = next(c for c, blocks in REQUIRED_BLOCKS.items() if block in blocks)
            raise ConfigError(
                f"Invalid key '{block}' for `eegbench {command}`: the '{block}' block is read "
                f"by `eegbench {owner}` (e.g. `eegbench {owner} +exp="
                f"{EXAMPLE_EXPERIMENT[owner]}`).")
    for block in REQUIRED_BLOCKS[command]:
        if data.get(block) is None:
            raise ConfigError(
                f"`eegbench {command}` needs a '{block}' block: use an experiment that "
                f"declares one, e.g. `eegbench {command} +exp={EXAMPLE_EXPERIMENT[command]}`.")


def _semantic_checks(spec: JobSpec) -> None:
    dataset = spec.dataset
    if (dataset.recipe is None) == (dataset.moabb is None):
        raise ConfigError("Invalid 'dataset' section: give exactly one of 'dataset.recipe' (a "
                          "recipe name or .yaml path) and 'dataset.moabb' (a MOABB dataset), "
                          f"but got {'both' if dataset.recipe else 'neither'}.")
    if dataset.recipe is not None:
        check_recipe_name("dataset.recipe", dataset.recipe)
    check_model_spec(spec.model)
    _check_protocol(spec)
    if spec.audit is not None:
        allowed = sorted([*VARIANTS, *NOT_RUNNABLE])
        for variant in spec.audit.variants:
            try:
                check_choice("audit.variants", variant, allowed)
            except ValueError as err:
                raise ConfigError(str(err)) from None
    if spec.hp_search is not None:
        try:
            check_model_params(spec.model.name, dict(spec.hp_search.grid))
        except ValueError as err:
            raise ConfigError(str(err).replace("'model.params'", "'hp_search.grid'")) from None
    if spec.pretrain is not None:
        for i, entry in enumerate(spec.pretrain.datasets):
            recipe = entry if isinstance(entry, str) else entry.recipe
            check_recipe_name(f"pretrain.datasets[{i}].recipe", recipe)
    if spec.study is not None:
        for adaptation in spec.study.adaptations:
            try:
                check_adaptation(adaptation)
            except ValueError as err:
                raise ConfigError(str(err).replace("'adaptation'", "'study.adaptations'")) \
                    from None


def _normalise(spec: JobSpec) -> JobSpec:
    """Return ``spec`` with every subject list in the recipe's own id format."""
    dataset = spec.dataset
    subjects = (_normalised(dataset.recipe, dataset.subjects) if dataset.recipe is not None
                else _moabb_subjects(dataset.subjects))
    updates: dict[str, Any] = {"dataset": dataset.model_copy(update={"subjects": subjects})}
    if spec.pretrain is not None:
        entries = [entry if isinstance(entry, str) else entry.model_copy(update={
            "subjects": _normalised(entry.recipe, entry.subjects)})
            for entry in spec.pretrain.datasets]
        updates["pretrain"] = spec.pretrain.model_copy(update={"datasets": entries})
    return spec.model_copy(update=updates)


def build_job_spec(data: Mapping[str, Any], command: str = "run") -> JobSpec:
    """Validate a composed configuration for ``command`` and return its typed spec.

    Parameters
    ----------
    data : mapping
        The resolved configuration (``OmegaConf.to_container(cfg, resolve=True)``; a
        ``hydra`` node is ignored).
    command : {"run", "pretrain", "study"}
        The subcommand that runs it; it must be the one the experiment declares
        (``experiment.command``).

    Returns
    -------
    JobSpec
        The validated spec, subject ids normalised.

    Raises
    ------
    ConfigError
        Naming every unknown key (with the allowed keys and the closest match), every value of
        the wrong type, and the first invalid name (model, parameter, adaptation, recipe,
        protocol parameter, audit variant).
    """
    check_choice("command", command, COMMANDS)
    data = {k: v for k, v in dict(data).items() if k != "hydra"}
    _check_command(data, command)
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err)) from None
    _semantic_checks(spec)
    return _normalise(spec)


def check_config(cfg: Any, command: str = "run") -> JobSpec:
    """Validate a composed Hydra config in place: build its spec, write back normalised ids.

    The job modules still read the DictConfig; the subject ids they see (and hash) are the
    spec's normalised ones.

    Raises
    ------
    ConfigError
        As :func:`build_job_spec`, or for a value that cannot be resolved (interpolation).
    """
    from omegaconf import OmegaConf, open_dict
    from omegaconf.errors import OmegaConfBaseException

    try:
        data = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"Invalid configuration: {str(err).splitlines()[0]}") from None
    spec = build_job_spec(data, command)
    with open_dict(cfg):
        if cfg.dataset.get("subjects") is not None:
            cfg.dataset.subjects = list(spec.dataset.subjects or [])
        if spec.pretrain is not None:
            for node, entry in zip(cfg.pretrain.datasets, spec.pretrain.datasets, strict=True):
                if not isinstance(entry, str) and node.get("subjects") is not None:
                    node.subjects = list(entry.subjects or [])
    return spec
