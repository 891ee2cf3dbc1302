"""The experiment plan behind the committed leaderboard, read from ``leaderboard/plan.yaml``.

``python -m eegbench.leaderboard plan STEP... [--dry-run] [--set NAME=VALUE]`` runs the steps'
commands (``python -m eegbench run|pretrain|study ...`` with the step's overrides, or a module's
command line) as subprocesses, in order, stopping at the first that fails; ``--dry-run`` prints
them instead and ``--list`` names every step. The same file lists the committed tables
(:func:`committed_tables`), which ``python -m eegbench.leaderboard --committed`` rebuilds.

The file's grammar (see its header): ``variables`` (``$NAME`` in an argument; a variable may
name an environment variable that overrides it), ``override_sets`` (an argument ``@name``
expands to the set), ``steps`` (each a ``help`` line and ``commands``; a command is
``{run|pretrain|study: [args]}``, ``{module: NAME, args: [...]}`` or ``{step: NAME}``, with an
optional ``vary`` that repeats it), ``default`` (the steps run when none is given) and
``committed`` (the shipped rows file and the tables built from it).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from string import Template
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

logger = logging.getLogger("eegbench.leaderboard.plan")

__all__ = ["DEFAULT_PLAN", "JOB_COMMANDS", "Plan", "PlanError", "committed_tables",
           "expand_step", "load_plan", "main", "resolve_variables"]

#: The plan file, relative to the repository root.
DEFAULT_PLAN = Path("leaderboard/plan.yaml")
#: ``eegbench`` commands a plan command may name (``python -m eegbench <command> ...``).
JOB_COMMANDS = ("run", "pretrain", "study")
#: Environment every command runs with: one thread always, the data root unless one is set.
COMMAND_ENV = {"OMP_NUM_THREADS": "1", "EEGBENCH_DATA_ROOT": "../shared/data"}
#: Keys of :data:`COMMAND_ENV` that the caller's environment may override.
OVERRIDABLE_ENV = ("EEGBENCH_DATA_ROOT",)


class PlanError(ValueError):
    """The plan file is malformed, or a step, set or variable it names does not exist."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Variable(_Strict):
    """A plan variable: its value (text or a list) and the environment variable overriding it."""

    value: str | list[str]
    env: str | None = None


class Command(_Strict):
    """One command of a step: an ``eegbench`` job, a module's command line, or another step."""

    run: list[str] | None = None
    pretrain: list[str] | None = None
    study: list[str] | None = None
    module: str | None = None
    args: list[str] = Field(default_factory=list)
    step: str | None = None
    vary: dict[str, list[str | dict[str, str]] | str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> Command:
        kinds = [k for k in (*JOB_COMMANDS, "module", "step") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a command names exactly one of {', '.join(JOB_COMMANDS)}, "
                             f"module or step; found {kinds or 'none'}")
        if self.args and self.module is None:
            raise ValueError("`args` belongs to a `module` command")
        return self


class Step(_Strict):
    """A named step: what it does (``help``) and its commands, in order."""

    help: str
    commands: list[Command]


class CommittedTable(_Strict):
    """One committed table: its name and the filters selecting its rows.

    ``kind``: the tasks whose rows it shows (``classification``, the default, or
    ``regression``: rows with a numeric target, :mod:`eegbench.leaderboard.regression`).
    """

    name: str
    kind: Literal["classification", "regression"] = "classification"
    protocol: list[str] | None = None
    dataset: list[str] | None = None
    family: list[str] | None = None
    probes: str = "include"
    metrics: list[str] | None = None
    test: str = "wilcoxon"


class Committed(_Strict):
    """The shipped rows file (relative to the plan file) and the tables built from it."""

    rows: str
    tables: list[CommittedTable]


class Plan(_Strict):
    """The whole plan file."""

    variables: dict[str, Variable]
    override_sets: dict[str, list[str]]
    default: list[str]
    steps: dict[str, Step]
    committed: Committed

    @model_validator(mode="before")
    @classmethod
    def _plain_variables(cls, data: Any) -> Any:
        """Accept ``NAME: value`` for a variable without an environment variable."""
        if isinstance(data, dict) and isinstance(data.get("variables"), dict):
            data = {**data, "variables": {
                k: v if isinstance(v, dict) else {"value": v}
                for k, v in data["variables"].items()}}
        return data

    @model_validator(mode="after")
    def _names_exist(self) -> Plan:
        for name in self.default:
            self._known_step(name, "default")
        for name, step in self.steps.items():
            for command in step.commands:
                if command.step is not None:
                    self._known_step(command.step, f"step {name}")
        return self

    def _known_step(self, name: str, where: str) -> None:
        if name not in self.steps:
            raise ValueError(f"{where} names the step {name!r}, which the plan does not "
                             f"define (steps: {', '.join(self.steps)})")


def load_plan(path: Path = DEFAULT_PLAN) -> Plan:
    """Read and validate a plan file.

    Raises
    ------
    PlanError
        If the file does not exist or does not follow the grammar (the message names the key).
    """
    path = Path(path)
    if not path.is_file():
        raise PlanError(f"Plan file {path} does not exist (run from the repository root or "
                        f"pass --plan).")
    try:
        return Plan.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as err:
        raise PlanError(f"Plan file {path} is malformed:\n{err}") from None


def committed_tables(path: Path) -> tuple[Path, list[CommittedTable]]:
    """Return the shipped rows file and the committed tables listed in the plan ``path``."""
    plan = load_plan(path)
    return Path(path).parent / plan.committed.rows, plan.committed.tables


def resolve_variables(plan: Plan, settings: Mapping[str, str] | None = None,
                      environ: Mapping[str, str] | None = None) -> dict[str, str | list[str]]:
    """Return every variable's value, in file order.

    A variable's own environment variable overrides its value and ``settings`` (``--set``)
    override both; a text value may use the variables defined above it; a list given as text
    is split on spaces.

    Raises
    ------
    PlanError
        If ``settings`` names an unknown variable, or a value uses an undefined one.
    """
    settings = dict(settings or {})
    environ = os.environ if environ is None else environ
    unknown = sorted(set(settings) - set(plan.variables))
    if unknown:
        raise PlanError(f"--set names unknown variable(s) {unknown} (variables: "
                        f"{', '.join(plan.variables)})")
    values: dict[str, str | list[str]] = {}
    for name, variable in plan.variables.items():
        raw: str | list[str] = variable.value
        if variable.env and variable.env in environ:
            raw = environ[variable.env]
        raw = settings.get(name, raw)
        if isinstance(variable.value, list) and isinstance(raw, str):
            raw = raw.split()
        if isinstance(raw, str):
            raw = _substitute(raw, values, f"variable {name}")
        values[name] = raw
    return values


def _substitute(text: str, values: Mapping[str, str | list[str]], where: str) -> str:
    """Replace ``$NAME`` in ``text``; a list variable or an unknown name is an error."""
    try:
        result = Template(text).substitute(values)
    except KeyError as err:
        raise PlanError(f"{where}: {text!r} uses ${err.args[0]}, which is not defined") \
            from None
    for name, value in values.items():
        if isinstance(value, list) and (f"${name}" in text or f"${{{name}}}" in text):
            raise PlanError(f"{where}: {text!r} uses the list variable ${name}; a list is "
                            f"used through `vary`")
    return result


def _bindings(vary: Mapping[str, Any], values: Mapping[str, str | list[str]],
              where: str) -> Iterator[dict[str, str]]:
    """Yield the names each repetition of a command binds (every combination of ``vary``)."""
    axes = []
    for key, options in vary.items():
        if isinstance(options, str):  # "$LIST": a list variable
            name = options.removeprefix("$").strip("{}")
            if not isinstance(values.get(name), list):
                raise PlanError(f"{where}: vary {key}: {options!r} is not a list variable")
            options = values[name]
        axes.append([dict(o) if isinstance(o, dict) else {key: str(o)} for o in options])
    for combination in itertools.product(*axes):
        bound: dict[str, str] = {}
        for part in combination:
            bound.update(part)
        yield bound


def _expand_args(args: list[str], plan: Plan, values: Mapping[str, str | list[str]],
                 where: str, seen: tuple[str, ...] = ()) -> list[str]:
    """Expand ``@set`` arguments (recursively) and substitute variables."""
    out: list[str] = []
    for arg in args:
        if arg.startswith("@"):
            name = arg[1:]
            if name not in plan.override_sets:
                raise PlanError(f"{where}: unknown override set {arg!r} (sets: "
                                f"{', '.join(plan.override_sets)})")
            if name in seen:
                raise PlanError(f"{where}: override set {name!r} includes itself")
            out += _expand_args(plan.override_sets[name], plan, values, where, (*seen, name))
        else:
            out.append(_substitute(arg, values, where))
    return out


def expand_step(plan: Plan, name: str, values: Mapping[str, str | list[str]],
                python: str = sys.executable, _stack: tuple[str, ...] = ()) -> list[list[str]]:
    """Return the argument vectors of a step's commands, in order (nested steps inlined).

    Raises
    ------
    PlanError
        If the step is unknown or includes itself, or a command uses an unknown set or name.
    """
    if name not in plan.steps:
        raise PlanError(f"Unknown step {name!r} (steps: {', '.join(plan.steps)})")
    if name in _stack:
        raise PlanError(f"Step {name!r} includes itself ({' -> '.join((*_stack, name))})")
    commands: list[list[str]] = []
    for i, command in enumerate(plan.steps[name].commands):
        where = f"step {name}, command {i + 1}"
        if command.step is not None:
            commands += expand_step(plan, command.step, values, python, (*_stack, name))
            continue
        for bound in _bindings(command.vary, values, where):
            scope = {**values, **bound}
            if command.module is not None:
                prefix, args = [python, "-m", command.module], command.args
            else:
                kind = next(k for k in JOB_COMMANDS if getattr(command, k) is not None)
                prefix, args = [python, "-m", "eegbench", kind], getattr(command, kind)
            commands.append(prefix + _expand_args(args, plan, scope, where))
    return commands


def command_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the plan's commands run with (``environ`` plus :data:`COMMAND_ENV`)."""
    env = dict(os.environ if environ is None else environ)
    for key, value in COMMAND_ENV.items():
        if key not in OVERRIDABLE_ENV or key not in env:
            env[key] = value
    return env


def _parse_settings(items: list[str]) -> dict[str, str]:
    settings = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise PlanError(f"--set expects NAME=VALUE, got {item!r}")
        settings[name] = value
    return settings


def main(argv: list[str] | None = None) -> int:
    """Command line of the plan; returns the exit status."""
    parser = argparse.ArgumentParser(prog="eegbench leaderboard plan",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("steps", nargs="*", metavar="STEP",
                        help="steps to run, in order (default: the plan's default steps)")
    parser.add_argument("--list", action="store_true", help="list the steps and stop")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the commands instead of running them")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a plan variable (repeatable)")
    parser.add_argument("--plan", type=Path, default=DEFAULT_PLAN,
                        help=f"the plan file (default: {DEFAULT_PLAN}); commands run from "
                             f"the folder above its folder")
    parser.add_argument("--python", default=sys.executable,
                        help="the Python interpreter of the commands (default: this one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        plan = load_plan(args.plan)
        if args.list:
            default = set(plan.default)
            for name, step in plan.steps.items():
                mark = "*" if name in default else " "
                sys.stdout.write(f"{mark} {name:24s} {step.help}\n")
            sys.stdout.write("(* = run when no step is given)\n")
            return 0
        values = resolve_variables(plan, _parse_settings(args.set))
        steps = args.steps or plan.default
        planned = [(s, expand_step(plan, s, values, args.python)) for s in steps]
    except PlanError as err:
        logger.error("%s", err)
        return 2
    root = Path(args.plan).resolve().parent.parent
    env = command_env()
    if args.dry_run:
        shown = " ".join(f"{k}={shlex.quote(env[k])}" for k in COMMAND_ENV)
        sys.stdout.write(f"# in {root}, with {shown}\n")
    for step, commands in planned:
        if args.dry_run:
            sys.stdout.write(f"# step {step}\n")
            sys.stdout.writelines(shlex.join(c) + "\n" for c in commands)
            continue
        for command in commands:
            logger.info("step %s: %s", step, shlex.join(command))
            status = subprocess.run(command, cwd=root, env=env, check=False).returncode
            if status:
                logger.error("step %s failed (exit status %d): %s", step, status,
                             shlex.join(command))
                return status
    return 0
