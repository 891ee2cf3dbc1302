"""The checks of a job spec that need the registries and the recipes (after its structure).

The model name (with "did you mean"), its parameters against its factory's signature (names
and annotated types, e.g. pyriemann's covariance estimators) and the wrapper's own checks, the
adaptation, the recipe names, the protocol's own value checks, the audit variants, the command
the experiment declares, and the subject ids normalised to the recipe's own spelling.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from eegbench.checks import check_choice
from eegbench.config.errors import ConfigError, choice_message, closest, describe, literal_of
from eegbench.config.sections import JobSpec, ModelSpec, type_hints
from eegbench.data.recipe import RecipeError, load_recipe
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
from eegbench.protocols.splitters import make_splitter
from eegbench.resources import recipes_dir

#: The subcommands that run a job from a configuration.
COMMANDS = ("run", "pretrain", "study")


def _recipe_names() -> list[str]:
    return sorted(p.stem for p in recipes_dir().glob("*.yaml"))


def check_recipe_name(key: str, recipe: str) -> None:
    """Raise if ``recipe`` is neither a shipped recipe nor a path to a ``.yaml`` file."""
    if Path(recipe).suffix in (".yaml", ".yml") and Path(recipe).is_file():
        return
    known = _recipe_names()
    if recipe not in known:
        close = closest(recipe, known)
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
    literal = literal_of(annotation)
    if literal is not None and isinstance(value, str):
        raise ConfigError(choice_message(key, value, list(typing.get_args(literal))))
    raise ConfigError(f"Invalid value for the '{key}' parameter: expected "
                      f"{describe(annotation)}, but got {value!r} ({type(value).__name__}).")


def _factory_annotations(factory: Any) -> dict[str, Any]:
    """Evaluated parameter annotations of a model factory (and its base classes' __init__)."""
    targets = ([c.__dict__["__init__"] for c in reversed(factory.__mro__)
                if "__init__" in c.__dict__ and c is not object]
               if inspect.isclass(factory) else [factory])
    out: dict[str, Any] = {}
    for target in targets:  # the subclass's annotation wins
        out.update({k: v for k, v in type_hints(target).items() if k != "return"})
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
    for option in ("align", "align_reference", "align_calibration_s", "layer_probe",
                   "layer_probe_max_features", "calibrate"):
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


def check_command(data: Mapping[str, Any], command: str) -> None:
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


def _check_hub(node: dict[str, Any]) -> None:
    """A hub dataset: known keys, pinned revision (before any request), a class target."""
    from eegbench.data.bridges.hub import check_node
    from eegbench.data.bridges.hub_pull import check_reference, is_local

    try:
        check_node(node)
        if not is_local(node["repo_id"]):
            check_reference(node["repo_id"], node.get("revision"))
    except RecipeError as err:
        raise ConfigError(str(err)) from None
    if node.get("task_type") == "regression":
        raise ConfigError(f"hub dataset {node['repo_id']} has a regression target (dataset.hub."
                          "task_type: regression); eegbench's windows table and protocols hold "
                          "class labels, so it cannot be run yet.")


def semantic_checks(spec: JobSpec) -> None:
    """Check what the structure cannot: names against registries and recipes, values."""
    dataset = spec.dataset
    given = [k for k in ("recipe", "moabb", "hub") if getattr(dataset, k) is not None]
    if len(given) != 1:
        raise ConfigError("Invalid 'dataset' section: give exactly one of 'dataset.recipe' (a "
                          "recipe name or .yaml path), 'dataset.moabb' (a MOABB dataset) and "
                          "'dataset.hub' (a Hugging Face Hub dataset), but got "
                          f"{given or 'none'}.")
    if dataset.recipe is not None:
        check_recipe_name("dataset.recipe", dataset.recipe)
    if dataset.hub is not None:
        _check_hub(dataset.hub.model_dump(exclude_none=True))
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


def normalise(spec: JobSpec) -> JobSpec:
    """Return ``spec`` with every subject list in the recipe's own id format."""
    dataset = spec.dataset
    if dataset.recipe is not None:
        subjects = _normalised(dataset.recipe, dataset.subjects)
    elif dataset.hub is not None:  # the dataset's own ids, as text
        subjects = None if dataset.subjects is None else [str(s) for s in dataset.subjects]
    else:
        subjects = _moabb_subjects(dataset.subjects)
    updates: dict[str, Any] = {"dataset": dataset.model_copy(update={"subjects": subjects})}
    if spec.pretrain is not None:
        entries = [entry if isinstance(entry, str) else entry.model_copy(update={
            "subjects": _normalised(entry.recipe, entry.subjects)})
            for entry in spec.pretrain.datasets]
        updates["pretrain"] = spec.pretrain.model_copy(update={"datasets": entries})
    return spec.model_copy(update=updates)
