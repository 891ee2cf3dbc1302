"""A benchmark suite as data: ``conf/suite/<name>.yaml``, validated (pydantic), and its cells.

A suite is a named, versioned list of *cells*; each cell is one dataset x task x protocol with
a primary metric, a preprocessing, a budget and the baselines a model is compared with. Its
**identity** (what a result must have been computed on to count for the cell) is
dataset + task + protocol (with its parameters) + primary metric + preprocessing
(:class:`CellIdentity`); a stored result row belongs to the cell when :func:`row_matches` says
so, whichever command produced it. The budget (trainer settings) is not part of the identity:
each model's own default budget applies, and the scorecard reports the budget each row used.

Version rules (``docs/concepts/suites.md``): ``MAJOR.MINOR.PATCH``; adding a cell or a
baseline is a minor change; changing or removing a cell's identity is a major change (a
result is cited as ``<name>@<version>``).

This module sits in the leaderboard layer (plain data and yaml, no Hydra) so that the
scorecard, the submission bundle and the command line all read the same suite; turning cells
into job configurations is :mod:`eegbench.suites`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from eegbench.protocols.alignment import PROTOCOL_DEFAULTS as ALIGNMENT_DEFAULTS
from eegbench.resources import config_dir

#: Metrics a cell may rank by, and whether higher is better.
HIGHER_IS_BETTER = {"balanced_accuracy": True, "roc_auc": True, "cohen_kappa": True,
                    "f1_weighted": True, "r2": True, "mae": False, "pearson_r": True}
CELL_METRICS = tuple(HIGHER_IS_BETTER)
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_CELL_ID = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_REVISION = re.compile(r"^[0-9a-f]{40}$")


class SuiteError(ValueError):
    """A suite file that is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSource(_Strict):
    """A pre-windowed dataset on the Hugging Face Hub (braindecode's hub format)."""

    repo_id: str
    #: The dataset repository's commit (40 hex digits): a moving branch is refused.
    revision: str
    #: The dataset's published fixed split, when it has one (as its publisher names it).
    split: dict[str, Any] | None = None

    @field_validator("revision")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if not _REVISION.match(value):
            raise ValueError(f"Invalid value for the 'revision' parameter. Allowed values are "
                             f"40-hex-digit commits, but got {value!r}.")
        return value


class MoabbSource(_Strict):
    """A MOABB dataset class loaded through its paradigm."""

    dataset: str
    paradigm: Literal["MotorImagery", "LeftRightImagery", "P300", "SSVEP"]


class Cell(_Strict):
    """One dataset x task x protocol of a suite, with its metric, budget and baselines."""

    id: str
    #: ``local``: a dataset configuration of ``conf/dataset`` (runs on the shipped recordings);
    #: ``hub`` / ``moabb``: the dataset is named by ``hub`` / ``moabb``.
    source: Literal["local", "hub", "moabb"] = "local"
    #: The dataset's name (for ``local`` cells the stem of ``conf/dataset/<dataset>.yaml``).
    dataset: str
    task: str
    paradigm: str
    protocol: str
    #: Protocol parameters that differ from ``conf/protocol/<protocol>.yaml``.
    protocol_params: dict[str, Any] = Field(default_factory=dict)
    preprocess: str = "mne"
    #: Preprocessing parameters that differ from ``conf/preprocess/<preprocess>.yaml``.
    preprocess_params: dict[str, Any] = Field(default_factory=dict)
    primary_metric: str
    #: Trainer configuration (``conf/trainer``) and any overrides; not part of the identity.
    budget: dict[str, Any] = Field(default_factory=lambda: {"trainer": "default"})
    #: Models every submission is compared with (``conf/model`` names).
    baselines: list[str]
    #: Score of a model unrelated to the labels (None: 1 / n_classes for balanced accuracy,
    #: 0.5 for ROC AUC).
    chance: float | None = None
    hub: HubSource | None = None
    moabb: MoabbSource | None = None
    #: Where the cell was run and checked (e.g. "run on ../shared/data"; "composed only").
    verified: str

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _CELL_ID.match(value):
            raise ValueError(f"Invalid cell id {value!r}: lower-case letters, digits and "
                             "underscores only.")
        return value

    @field_validator("primary_metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in CELL_METRICS:
            raise ValueError(f"Invalid value for the 'primary_metric' parameter. Allowed values "
                             f"are {list(CELL_METRICS)}, but got {value!r}.")
        return value

    @field_validator("baselines")
    @classmethod
    def _baselines(cls, value: list[str]) -> list[str]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"baselines must be a non-empty list of distinct models, got "
                             f"{value!r}.")
        return value

    @model_validator(mode="after")
    def _source(self) -> Cell:
        needs = {"hub": self.hub, "moabb": self.moabb}
        for source, block in needs.items():
            if (self.source == source) != (block is not None):
                raise ValueError(f"cell {self.id!r}: a '{source}' block is required exactly "
                                 f"when source is '{source}' (source is {self.source!r}).")
        return self


class Suite(_Strict):
    """A named, versioned benchmark suite (``conf/suite/<name>.yaml``)."""

    name: str
    version: str
    description: str
    citation: str
    cells: list[Cell]

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(str(value)):
            raise ValueError(f"Invalid value for the 'version' parameter. Allowed values are "
                             f"MAJOR.MINOR.PATCH (e.g. 1.0.0), but got {value!r}.")
        return value

    @model_validator(mode="after")
    def _unique(self) -> Suite:
        ids = [c.id for c in self.cells]
        if not ids:
            raise ValueError(f"suite {self.name!r} has no cells.")
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"suite {self.name!r}: duplicated cell ids {duplicated}.")
        return self

    @property
    def label(self) -> str:
        """How a result cites the suite: ``<name>@<version>``."""
        return f"{self.name}@{self.version}"

    def cell(self, cell_id: str) -> Cell:
        """Return the cell ``cell_id``; a ``SuiteError`` lists the cells otherwise."""
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        raise SuiteError(f"Invalid value for the 'cell' parameter. Allowed values are "
                         f"{[c.id for c in self.cells]}, but got {cell_id!r}.")


def suite_dir() -> Path:
    """Return the folder of the shipped suites (``conf/suite``)."""
    return config_dir() / "suite"


def available_suites() -> list[str]:
    """Return the names of the shipped suites."""
    return sorted(p.stem for p in suite_dir().glob("*.yaml"))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise SuiteError(f"cannot read {path}: {err}") from err
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: expected a mapping, found {type(raw).__name__}.")
    return raw


def load_suite(name_or_path: str | Path) -> Suite:
    """Load and validate a suite by name (``conf/suite/<name>.yaml``) or from a yaml path.

    Local cells are checked against the shipped configurations: their dataset, protocol,
    preprocessing, trainer and baseline models must exist.
    """
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = suite_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise SuiteError(f"Invalid value for the 'suite' parameter. Allowed values are "
                             f"{available_suites()}, but got {str(name_or_path)!r}.")
    raw = _read_yaml(path)
    try:
        suite = Suite.model_validate(raw)
    except ValueError as err:
        raise SuiteError(f"{path}: {err}") from err
    if suite.name != path.stem:
        raise SuiteError(f"{path}: the suite's name {suite.name!r} must equal its file name "
                         f"{path.stem!r}.")
    problems = [p for cell in suite.cells for p in _missing_configs(cell)]
    if problems:
        raise SuiteError(f"{path}: " + "; ".join(problems))
    return suite


def _missing_configs(cell: Cell) -> list[str]:
    conf = config_dir()
    wanted = [("protocol", cell.protocol), ("preprocess", cell.preprocess),
              ("trainer", str(cell.budget.get("trainer", "default")))]
    wanted += [("model", b) for b in cell.baselines]
    if cell.source in ("local", "hub"):
        wanted.append(("dataset", cell.dataset))
    problems = [f"cell {cell.id!r}: no {group} configuration {name!r} (conf/{group}/{name}.yaml)"
                for group, name in wanted if not (conf / group / f"{name}.yaml").is_file()]
    if cell.hub is not None and not problems:
        problems += _hub_mismatches(cell)
    return problems


def _as_text(values: Any) -> list[str] | None:
    return None if values is None else [str(v).lower() if isinstance(v, bool) else str(v)
                                        for v in values]


def _hub_mismatches(cell: Cell) -> list[str]:
    """Differences between a hub cell's ``hub`` block and its dataset configuration.

    The dataset configuration (``conf/dataset/<dataset>.yaml``, what a job reads) must pull
    the same repository at the same commit and declare the same split as the cell.
    """
    assert cell.hub is not None
    dataset = _read_yaml(config_dir() / "dataset" / f"{cell.dataset}.yaml")
    node, split = dataset.get("hub") or {}, dataset.get("fixed_split") or {}
    published = cell.hub.split or {}
    pairs = [("repo_id", cell.hub.repo_id, node.get("repo_id")),
             ("revision", cell.hub.revision, node.get("revision")),
             ("split key", published.get("key", "subject"), split.get("key", "subject")),
             ("valid_fraction", published.get("valid_fraction"), split.get("valid_fraction"))]
    pairs += [(f"split {part}", _as_text(published.get(part)), _as_text(split.get(part)))
              for part in ("train", "valid", "test")]
    return [f"cell {cell.id!r}: hub {what} {want!r} differs from conf/dataset/{cell.dataset}."
            f"yaml ({got!r})" for what, want, got in pairs if want != got]


class CellIdentity(_Strict):
    """What a result must have been computed on to count for a cell.

    dataset + task + protocol (name and parameters) + primary metric + preprocessing; built
    from the cell and the shipped ``conf/protocol`` and ``conf/preprocess`` files.
    """

    dataset: str
    task: str
    protocol: dict[str, Any]
    preprocess: dict[str, Any]
    primary_metric: str


def _group_values(group: str, name: str) -> dict[str, Any]:
    raw = _read_yaml(config_dir() / group / f"{name}.yaml")
    return {k: v for k, v in raw.items() if k != "defaults"}


def cell_identity(cell: Cell) -> CellIdentity:
    """Return the identity of ``cell`` (resolved protocol and preprocessing parameters)."""
    protocol = {**_group_values("protocol", cell.protocol), **cell.protocol_params}
    preprocess = {**_group_values("preprocess", cell.preprocess), **cell.preprocess_params}
    return CellIdentity(dataset=cell.dataset, task=cell.task, protocol=protocol,
                        preprocess=preprocess, primary_metric=cell.primary_metric)


def _same_section(expected: dict[str, Any], found: Any) -> bool:
    """Equal sections, where a key absent from one side counts as null on that side.

    (Rows written before a key existed lack it: ``align`` of leave-one-subject-out.) Values
    that are interpolations in the configuration (``${...}``) are not compared.
    """
    if not isinstance(found, dict):
        return False
    for key in set(expected) | set(found):
        want, got = expected.get(key), found.get(key)
        if isinstance(want, str) and want.startswith("${"):
            continue
        if want != got and not (isinstance(want, (int, float)) and isinstance(got, (int, float))
                                and not isinstance(want, bool) and float(want) == float(got)):
            return False
    return True


def row_matches(identity: CellIdentity, row: dict[str, Any]) -> bool:
    """Return whether a stored result row counts for the cell of ``identity``.

    The row's dataset, task and protocol name must equal the cell's; its resolved protocol and
    preprocessing sections (``row["config"]``) must equal the cell's (a key missing on one
    side counts as null); it must not be a few-shot row; and its metrics must include the
    cell's primary metric. Audit variants (``loso~leaky:...``) never match.
    """
    config = row.get("config")
    if not isinstance(config, dict):
        return False
    if (row.get("dataset"), row.get("task")) != (identity.dataset, identity.task):
        return False
    if row.get("protocol") != identity.protocol.get("name") or row.get("shots") is not None:
        return False
    if identity.primary_metric not in (row.get("metrics") or {}):
        return False
    return (_same_section(_without_defaults(identity.protocol),
                          _without_defaults(config.get("protocol")))
            and _same_section(identity.preprocess, config.get("preprocess")))


def _without_defaults(protocol: Any) -> Any:
    """Drop the optional alignment keys at their defaults.

    Rows written before those keys existed lack them
    (:data:`eegbench.protocols.alignment.PROTOCOL_DEFAULTS`).
    """
    if not isinstance(protocol, dict):
        return protocol
    return {k: v for k, v in protocol.items()
            if not (k in ALIGNMENT_DEFAULTS and v == ALIGNMENT_DEFAULTS[k])}


def _override_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_override_value(v) for v in value) + "]"
    return str(value)


def cell_job_overrides(suite: Suite, cell: Cell) -> list[str]:
    """Return the Hydra overrides of a cell's job: dataset, protocol, preprocessing, budget.

    ``local`` and ``hub`` cells (``hub``: through the dataset configuration of the hub
    bridge, which pulls the pinned commit) have a job here; a ``moabb``-class cell raises a
    :class:`SuiteError` naming what it needs.
    """
    if cell.source == "moabb":
        raise SuiteError(f"cell {cell.id!r} of {suite.label} reads a {cell.source} dataset "
                         f"({cell.hub or cell.moabb}); this installation has no loader for "
                         "it: run the suite's local cells.")
    budget = dict(cell.budget)
    overrides = [f"dataset={cell.dataset}", f"protocol={cell.protocol}",
                 f"preprocess={cell.preprocess}", f"trainer={budget.pop('trainer', 'default')}"]
    overrides += [f"protocol.{k}={_override_value(v)}"
                  for k, v in sorted(cell.protocol_params.items())]
    overrides += [f"preprocess.{k}={_override_value(v)}"
                  for k, v in sorted(cell.preprocess_params.items())]
    return overrides + [f"trainer.{k}={_override_value(v)}" for k, v in sorted(budget.items())]
