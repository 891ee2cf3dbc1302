"""Typed schema of a dataset recipe (pydantic v2): unknown keys, types and ranges are errors.

:func:`eegbench.data.recipe_validation.validate_recipe` checks the mapping read from a
recipe's YAML file against :class:`RecipeModel` and raises
:class:`~eegbench.data.errors.RecipeError` with one line per problem, naming the recipe file and
the key (``source.csv.jitter_tolerance_s``), what is allowed and what was found; an unknown key
suggests the closest known one ("did you mean 'sha256'?"), so a misspelled optional key never
switches a check off silently.

Paths a recipe names are confined: ``name`` is an identifier (it names a cache folder),
``source.folder`` and companion templates are relative paths without ``..``; where they
resolve on disk is checked again by :meth:`~eegbench.data.recipe.Recipe.discover`.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from eegbench.data.templates import template_fields

#: A recipe name: it names the cache folder, so no separators, no ``..``, not absolute.
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,99}$"
#: Sensor types with a standard unit (see :mod:`eegbench.data.standardize`).
SENSOR_TYPES = ("eeg", "eog", "ecg", "emg", "mag", "grad")

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as err:
        raise ValueError(f"not a valid regular expression ({err})") from None
    return value


def _check_relative(value: str) -> str:
    """A relative POSIX path that stays below its base folder (no absolute path, no ``..``)."""
    path = PurePosixPath(value)
    if not value or path.is_absolute() or value.startswith("~") or "\\" in value \
            or ".." in path.parts or re.match(r"^[A-Za-z]:", value):
        raise ValueError("must be a relative path below the data root, without '..'")
    return value


class _Strict(BaseModel):
    # strict: a value of the wrong type is an error naming its key, never coerced (the
    # recipe's raw mapping is what the readers use, so '5' would reach them as a string)
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class CsvOptions(_Strict):
    """``source.csv``: options of the CSV reader (see :func:`eegbench.data.readers.read_csv`)."""

    time_column: NonEmpty = "timestamps"
    channels: list[NonEmpty] = Field(min_length=1)
    unit: Literal["uV", "mV", "V"] = "uV"
    marker_columns: list[NonEmpty] = []
    stim_channel: NonEmpty = "STI"
    sfreq_tolerance: float = Field(0.01, gt=0, lt=0.5)
    jitter_tolerance_s: float | None = Field(None, ge=0, le=10)
    max_gap_samples: float = Field(5, gt=0)


class BidsOptions(_Strict):
    """``source.bids``: entities selecting recordings of a BIDS tree (see ``reader: bids``)."""

    datatype: Literal["eeg", "meg", "ieeg"] | None = None  # default: the file's folder name


class Source(_Strict):
    """``source``: where the recordings are and how to read them."""

    folder: str
    base_url: str | None = None
    reader: NonEmpty
    pattern: str
    csv: CsvOptions | None = None
    bids: BidsOptions | None = None
    sha256: dict[str, Sha256] | None = None
    urls: dict[str, str] | None = None  # files that moved upstream: path -> URL
    max_file_bytes: int | None = Field(None, gt=0)  # download size limit (eegbench.data.fetch)
    companions: dict[NonEmpty, str] | None = None
    defaults: dict[NonEmpty, str | int] | None = None

    _folder = field_validator("folder")(lambda cls, v: _check_relative(v))
    _pattern = field_validator("pattern")(lambda cls, v: _check_regex(v))

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s):// URL")
        return value

    @field_validator("urls")
    @classmethod
    def _file_urls(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for rel, url in (value or {}).items():
            _check_relative(rel)
            if not re.match(r"^https?://[^/\s]+", url):
                raise ValueError(f"source.urls[{rel!r}] must be an http(s):// URL")
        return value

    @field_validator("companions")
    @classmethod
    def _templates(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for template in (value or {}).values():
            _check_relative(template)
            template_fields(template)  # plain {name} fields only (TemplateError: ValueError)
        return value

    @field_validator("sha256")
    @classmethod
    def _pinned_paths(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for rel in (value or {}):
            _check_relative(rel)
        return value


class ExcludeRule(_Strict):
    """One ``exclude`` entry: files (regex on the path below the folder) and why."""

    files: str
    reason: NonEmpty

    _files = field_validator("files")(lambda cls, v: _check_regex(v))


class Labels(_Strict):
    """``labels``: where a window's label comes from, the code map and the class order."""

    from_: NonEmpty = Field(alias="from")
    map: dict[str | int, NonEmpty] = Field(min_length=1)
    classes: list[NonEmpty] = Field(min_length=2)

    @model_validator(mode="after")
    def _classes_cover_map(self) -> Labels:
        unknown = sorted({str(v) for v in self.map.values()} - set(self.classes))
        if unknown:
            raise ValueError(f"labels.map names classes {unknown} that are not in "
                             f"labels.classes {self.classes}")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"labels.classes has duplicates: {self.classes}")
        return self


class Channels(_Strict):
    """``channels``: renaming, picking (in order), types, montage, documented scale repair."""

    pick: list[NonEmpty] = Field(min_length=1)
    rename: dict[NonEmpty, NonEmpty] | None = None
    types: dict[NonEmpty, Literal[SENSOR_TYPES]] | None = None  # type: ignore[valid-type]
    montage: NonEmpty | None = None
    scale: float | None = Field(None, gt=0)
    scale_reason: NonEmpty | None = None

    @field_validator("pick")
    @classmethod
    def _unique_pick(cls, value: list[str]) -> list[str]:
        twice = sorted({c for c in value if value.count(c) > 1})
        if twice:
            raise ValueError(f"channels.pick must name each channel once; {twice} "
                             f"appear(s) more than once")
        return value

    @field_validator("rename")
    @classmethod
    def _unique_targets(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        targets = list((value or {}).values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            sources = {t: sorted(k for k, v in (value or {}).items() if v == t) for t in twice}
            raise ValueError(f"channels.rename gives several file channels the same name: "
                             f"{sources}")
        return value

    @model_validator(mode="after")
    def _scale_needs_reason(self) -> Channels:
        if self.scale not in (None, 1.0) and not self.scale_reason:
            raise ValueError("channels.scale needs a channels.scale_reason (why the stored "
                             "unit differs from the header)")
        return self


class EventsSpec(_Strict):
    """``windows.events``: where the events are (see :mod:`eegbench.data.events`)."""

    from_: Literal["annotations", "stim_channel", "eve_file"] = Field(alias="from")
    channel: NonEmpty | None = None
    companion: NonEmpty | None = None
    consecutive: bool | Literal["increasing"] | None = None

    @model_validator(mode="after")
    def _channel_for_stim(self) -> EventsSpec:
        if self.from_ == "stim_channel" and not self.channel:
            raise ValueError("windows.events.from: stim_channel needs windows.events.channel")
        return self


class Windows(_Strict):
    """``windows``: fixed-length windows over the file, or epochs around events."""

    kind: Literal["fixed", "events"]
    length_s: float | None = Field(None, gt=0)
    stride_s: float | None = Field(None, gt=0)
    events: EventsSpec | None = None
    tmin: float | None = None
    tmax: float | None = None

    @model_validator(mode="after")
    def _complete(self) -> Windows:
        if self.kind == "fixed" and (self.length_s is None or self.stride_s is None):
            raise ValueError("windows.kind: fixed needs windows.length_s and windows.stride_s")
        if self.kind == "events":
            if self.events is None or self.tmin is None or self.tmax is None:
                raise ValueError("windows.kind: events needs windows.events, windows.tmin and "
                                 "windows.tmax")
            if self.tmax <= self.tmin:
                raise ValueError(f"windows.tmax ({self.tmax}) must be greater than "
                                 f"windows.tmin ({self.tmin})")
        return self


Count = Annotated[int, Field(ge=0)] | Annotated[list[Annotated[int, Field(ge=0)]],
                                                Field(min_length=2, max_length=2)]


class CountRule(_Strict):
    """One ``expected.counts`` rule: files (regex) and windows per class (N or [min, max])."""

    files: str
    classes: dict[NonEmpty, Count] = Field(min_length=1)

    _files = field_validator("files")(lambda cls, v: _check_regex(v))


class Duration(_Strict):
    """``expected.duration_s``: bounds of a recording's duration, in seconds."""

    min: float = Field(0.0, ge=0)
    max: float | None = Field(None, gt=0)


class Expected(_Strict):
    """``expected``: integrity expectations checked while reading."""

    counts: list[CountRule] | None = Field(None, min_length=1)  # required once resolved
    duration_s: Duration | None = None
    n_channels_in_file: int | None = Field(None, ge=1)


class Crop(_Strict):
    """One ``crop`` entry: the part of a file to keep (seconds from its first sample) and why."""

    tmin: float = Field(0.0, ge=0)
    tmax: float | None = Field(None, gt=0)
    reason: NonEmpty

    @model_validator(mode="after")
    def _ordered(self) -> Crop:
        if self.tmax is not None and self.tmax <= self.tmin:
            raise ValueError(f"crop tmax ({self.tmax}) must be greater than tmin ({self.tmin})")
        return self


class Task(_Strict):
    """One entry of ``tasks``: what a task changes over the recipe's top-level sections.

    ``labels``, ``windows``, ``title``, ``paradigm`` and ``primary_metric`` replace the top-level
    ones; ``expected`` is merged into the top-level ``expected`` (key by key); ``files`` (a
    regex on the path below the dataset folder) restricts the task to some of the files.
    """

    title: NonEmpty | None = None
    paradigm: NonEmpty | None = None
    primary_metric: NonEmpty | None = None
    files: str | None = None
    labels: Labels | None = None
    windows: Windows | None = None
    expected: Expected | None = None

    _files = field_validator("files")(lambda cls, v: v if v is None else _check_regex(v))


class TargetTable(_Strict):
    """``target``: a numeric target per subject, read from a table below the dataset folder.

    ``key`` is the table's column naming the subject, ``key_format`` how a subject id of the
    recordings reads there (``Subject{subject}``: subject ``04`` is ``Subject04``), ``column``
    the numeric target. ``sha256`` pins the table's bytes. ``level: subject``: every window
    of a subject gets the subject's value (the only level so far).
    """

    table: str
    sha256: Sha256 | None = None
    key: NonEmpty
    key_format: NonEmpty = "{subject}"
    column: NonEmpty
    level: Literal["subject"] = "subject"
    unit: NonEmpty | None = None
    description: NonEmpty | None = None

    _table = field_validator("table")(lambda cls, v: _check_relative(v))

    @field_validator("key_format")
    @classmethod
    def _subject_field(cls, value: str) -> str:
        if template_fields(value) != ["subject"]:
            raise ValueError("must hold the one field {subject} (e.g. 'Subject{subject}')")
        return value


class TargetTask(_Strict):
    """One entry of ``targets``: a regression task over some of the recipe's windows.

    The windows are the recipe's (its labels, windows and expected counts), restricted to the
    files matching ``files``; each window's target is read from ``target``'s table. ``title``,
    ``paradigm`` and ``primary_metric`` (a regression metric) replace the top-level ones.
    """

    title: NonEmpty | None = None
    paradigm: NonEmpty | None = None
    primary_metric: NonEmpty
    files: str | None = None
    target: TargetTable

    _files = field_validator("files")(lambda cls, v: v if v is None else _check_regex(v))

    @field_validator("primary_metric")
    @classmethod
    def _regression_metric(cls, value: str) -> str:
        from eegbench.metrics import metrics_of_kind

        allowed = sorted(metrics_of_kind("regression"))
        if value not in allowed:
            raise ValueError(f"must be a regression metric, one of {allowed}")
        return value


class TaskRef(_Strict):
    """``task``: set by the loader on a recipe resolved for one of its ``tasks``.

    Never written in a recipe file.
    """

    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
    files: str | None = None


class Quality(_Strict):
    """``quality``: signal-quality settings (checks and defaults in eegbench.data.quality)."""

    policy: Literal["error", "warn", "drop_channel", "drop_file"] | None = None
    max_clipped_fraction: float | None = Field(None, ge=0, le=1)
    max_flat_fraction: float | None = Field(None, ge=0, le=1)
    flat_tolerance: float | None = Field(None, ge=0)
    max_abs_amplitude: dict[Literal[SENSOR_TYPES], float] | None = None  # type: ignore[valid-type]
    min_flat_s: float | None = Field(None, ge=0)
    clip_tolerance: float | None = Field(None, ge=0, le=1)
    max_amplitude_ratio: float | None = Field(None, gt=1)
    max_channel_amplitude_ratio: float | None = Field(None, gt=1)
    min_files_for_ratio: int | None = Field(None, ge=2)

    @field_validator("max_abs_amplitude")
    @classmethod
    def _positive(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        for sensor, limit in (value or {}).items():
            if limit <= 0:
                raise ValueError(f"max_abs_amplitude.{sensor} must be > 0, got {limit}")
        return value


class RecipeModel(_Strict):
    """A whole recipe (``data_recipes/*.yaml``)."""

    name: Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
    title: NonEmpty
    paradigm: NonEmpty
    modality: Literal["eeg", "meg"] = "eeg"
    sensor_types: list[Literal[SENSOR_TYPES]] | None = None  # type: ignore[valid-type]
    licence: NonEmpty
    citation: NonEmpty
    source: Source
    exclude: list[ExcludeRule] = []
    crop: dict[NonEmpty, Crop] | None = None
    labels: Labels | None = None  # required, here or in every task
    channels: Channels
    sfreq: float = Field(gt=0)
    windows: Windows | None = None  # required, here or in every task
    expected: Expected | None = None  # counts required, here or in every task
    primary_metric: NonEmpty | None = None
    quality: Quality | None = None
    tasks: dict[Annotated[str, StringConstraints(pattern=NAME_PATTERN)], Task] | None = \
        Field(None, min_length=1)
    task: TaskRef | None = None
    #: Regression tasks over the recipe's windows (``dataset.task`` selects one).
    targets: dict[Annotated[str, StringConstraints(pattern=NAME_PATTERN)], TargetTask] | None = \
        Field(None, min_length=1)
    #: Set by the loader on a recipe resolved for one of its ``targets``.
    target: TargetTable | None = None

    @field_validator("crop")
    @classmethod
    def _crop_paths(cls, value: dict[str, Crop] | None) -> dict[str, Crop] | None:
        for rel in (value or {}):
            _check_relative(rel)
        return value

    @field_validator("primary_metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        from eegbench.metrics import METRICS

        if value is not None and value not in METRICS:
            raise ValueError(f"must be one of {sorted(METRICS)}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> RecipeModel:
        if self.tasks is not None:
            if self.task is not None:
                raise ValueError("a recipe declares 'tasks' or is resolved for one 'task', "
                                 "not both")
            return self  # each task is checked once resolved (Recipe.for_task)
        missing = [k for k in ("labels", "windows", "expected") if getattr(self, k) is None]
        if not missing and self.expected.counts is None:
            missing = ["expected.counts"]
        if missing:
            raise PydanticCustomError("missing_keys", "missing required key(s) {keys} (at the "
                                      "top level, or in each entry of 'tasks')",
                                      {"keys": missing})
        return self

    @model_validator(mode="after")
    def _count_classes(self) -> RecipeModel:
        if self.labels is None or self.expected is None:
            return self
        for rule in self.expected.counts or []:
            unknown = sorted(set(rule.classes) - set(self.labels.classes))
            if unknown:
                raise ValueError(f"expected.counts rule {rule.files!r} names unknown classes "
                                 f"{unknown}; labels.classes are {self.labels.classes}")
        return self
