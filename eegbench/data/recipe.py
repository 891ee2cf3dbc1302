"""Declarative dataset recipes: source files, checksums, labels, channels and windowing.

A recipe is a YAML file in ``data_recipes/``. It says *what* the standardized dataset is;
:mod:`eegbench.data.readers` and :mod:`eegbench.data.standardize` say *how* it is read.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from eegbench.data.errors import CountMismatch, CountMismatches, RecipeError
from eegbench.data.paths import confine
from eegbench.data.recipe_schema import NAME_PATTERN, RecipeModel
from eegbench.data.recipe_validation import validate_recipe
from eegbench.data.sources import (
    Companion,
    SourceFile,
    verify_checksum,
    verify_checksums,
    verify_checksums_keyed,
)
from eegbench.data.templates import TemplateError, fill_template
from eegbench.hashing import sha256_of
from eegbench.resources import recipes_dir

__all__ = ["Companion", "CountMismatch", "CountMismatches", "Recipe", "RecipeError",
           "SourceFile", "load_recipe", "recipe_primary_metric", "select_subjects",
           "sha256_of", "verify_checksum", "verify_checksums", "verify_checksums_keyed"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipe:
    """A parsed dataset recipe (see ``data_recipes/*.yaml`` for the fields)."""

    name: str
    raw: dict[str, Any] = field(repr=False)
    path: Path | None = None
    #: The typed recipe (:class:`~eegbench.data.recipe_schema.RecipeModel`), validated once
    #: from ``raw`` when the recipe is made; the standardization reads this.
    model: RecipeModel = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = str(self.path) if self.path else f"recipe {self.name!r}"
        task = (self.raw.get("task") or {}).get("name") if isinstance(self.raw, dict) else None
        if task is not None:
            where += f" (task {task!r})"
        model = validate_recipe(self.raw, where)
        if model.name != self.name:
            raise RecipeError(f"Recipe {self.path or self.name!r}: its name field "
                              f"{model.name!r} differs from {self.name!r}.")
        object.__setattr__(self, "model", model)

    # -- tasks ---------------------------------------------------------------------------
    @property
    def task(self) -> str | None:
        """The task this recipe was resolved for (:meth:`for_task`), or None."""
        return None if self.model.task is None else self.model.task.name

    @property
    def task_names(self) -> list[str]:
        """The tasks a multi-task recipe declares (``tasks``); empty for a single-task one."""
        return sorted(self.model.tasks or {})

    @property
    def target_names(self) -> list[str]:
        """The regression tasks the recipe declares (``targets``)."""
        return sorted(self.model.targets or {})

    @property
    def is_regression(self) -> bool:
        """True when the recipe is resolved for one of its ``targets`` (a numeric target)."""
        return self.model.target is not None

    def _for_target(self, task: str) -> Recipe:
        """The recipe resolved for its regression task ``task`` (see :meth:`for_task`)."""
        spec = self.raw["targets"][task]
        raw = {k: v for k, v in self.raw.items() if k != "targets"}
        for key in ("title", "paradigm", "primary_metric"):
            if key in spec:
                raw[key] = spec[key]
        raw["task"] = {"name": task, "files": spec.get("files")}
        raw["target"] = spec["target"]
        return Recipe(name=self.name, raw=raw, path=self.path)

    def for_task(self, task: str | None) -> Recipe:
        """Return this recipe resolved for ``task`` (one of its ``tasks``).

        The task's ``labels``, ``windows``, ``title``, ``paradigm`` and ``primary_metric``
        replace the top-level ones, its ``expected`` is merged into the top-level one, and its
        ``files`` regex restricts discovery; the file list, checksums, channels, quality and
        crops stay the recipe's. A recipe without ``tasks`` is returned as is (its
        ``dataset.task`` is a label), unless ``task`` names one of its ``targets`` (a
        regression task): the recipe's windows restricted to the target's ``files``, with the
        target's ``title``, ``paradigm`` and ``primary_metric``; ``target`` is set to the
        target's table (read by :func:`eegbench.data.targets.attach_target`).

        Raises
        ------
        RecipeError
            If ``task`` is not one of the recipe's tasks, or the resolved task is incomplete.
        """
        if task is not None and task in self.target_names:
            return self._for_target(task)
        if not self.task_names:
            return self
        if task not in self.task_names:
            raise RecipeError(
                f"Invalid value for the 'dataset.task' parameter of recipe '{self.name}'. "
                f"Allowed values are {self.task_names + self.target_names}, but got "
                f"{task!r}.")
        spec = self.raw["tasks"][task]
        raw = {k: v for k, v in self.raw.items() if k != "tasks"}
        for key in ("title", "paradigm", "primary_metric", "labels", "windows"):
            if key in spec:
                raw[key] = spec[key]
        if "expected" in spec:
            raw["expected"] = {**(raw.get("expected") or {}), **spec["expected"]}
        raw["task"] = {"name": task, "files": spec.get("files")}
        return Recipe(name=self.name, raw=raw, path=self.path)

    def require_task(self) -> None:
        """Raise unless the recipe is ready to standardize (single-task, or resolved)."""
        if self.task_names and self.task is None:
            raise RecipeError(
                f"Recipe '{self.name}' declares several tasks {self.task_names}; select one "
                "with dataset.task (or load_recipe(..., task=...)).")

    def in_task(self, relpath: str) -> bool:
        """Whether the file ``relpath`` belongs to the resolved task (every file without one)."""
        files = None if self.model.task is None else self.model.task.files
        return files is None or re.fullmatch(files, relpath) is not None

    def crop_of(self, source: SourceFile) -> dict[str, Any] | None:
        """The recipe's ``crop`` entry of ``source`` (``tmin``, ``tmax``, ``reason``), or None."""
        entry = (self.model.crop or {}).get(source.relpath)
        return None if entry is None else {"tmin": float(entry.tmin), "tmax": entry.tmax,
                                           "reason": entry.reason}

    # -- convenient accessors ------------------------------------------------------------
    @property
    def source(self) -> dict[str, Any]:
        """The ``source`` section (folder, reader, pattern, sha256, base_url)."""
        return self.raw["source"]

    @property
    def classes(self) -> list[str]:
        """Ordered class names; the integer label is the index in this list."""
        self.require_task()
        return list(self.model.labels.classes)

    @property
    def declared_sfreq(self) -> float:
        """Sampling rate every source file must have."""
        return float(self.model.sfreq)

    @property
    def channels(self) -> dict[str, Any]:
        """The ``channels`` section (rename, pick, types, montage)."""
        return self.raw["channels"]

    @property
    def windows(self) -> dict[str, Any]:
        """The ``windows`` section (kind, length_s, stride_s, ...)."""
        self.require_task()
        return self.raw["windows"]

    @property
    def expected(self) -> dict[str, Any]:
        """Integrity expectations checked while reading."""
        return self.raw.get("expected", {})

    @property
    def modality(self) -> str:
        """``eeg`` or ``meg``."""
        return self.model.modality

    def expected_counts(self, source: SourceFile) -> dict[str, tuple[int, int]]:
        """Return the expected number of windows per class for ``source``.

        The first rule of ``expected.counts`` whose ``files`` regex matches the file's path
        (relative to the dataset folder) applies; a count is an integer or ``[min, max]``.

        Raises
        ------
        RecipeError
            If no rule matches the file (every file's counts must be declared).
        """
        self.require_task()
        rules = None if self.model.expected is None else self.model.expected.counts
        if not rules:
            raise RecipeError(f"Recipe '{self.name}' declares no expected.counts; every recipe "
                              "must state the windows expected per file and class.")
        for rule in rules:
            if re.fullmatch(rule.files, source.relpath):
                out = {}
                for cls, n in rule.classes.items():
                    lo, hi = (n, n) if isinstance(n, int) else (int(n[0]), int(n[1]))
                    out[str(cls)] = (lo, hi)
                unknown = sorted(set(out) - set(self.classes))
                if unknown:
                    raise RecipeError(f"Recipe '{self.name}': expected.counts rule "
                                      f"{rule.files!r} names unknown classes {unknown}; "
                                      f"classes are {self.classes}.")
                return out
        raise RecipeError(
            f"{source.path}: recipe '{self.name}' has no expected.counts rule matching "
            f"{source.relpath!r}; add one (files: <regex>, classes: {{class: count}})."
        )

    def fingerprint(self) -> str:
        """Return a stable hash of the recipe content (part of every cache key).

        The ``targets`` section is left out: declaring a regression task does not change the
        windows of the others (a recipe resolved for a target hashes its ``target``).
        """
        content = {k: v for k, v in self.raw.items() if k != "targets"}
        blob = json.dumps(content, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()

    def label_of(self, source: SourceFile) -> str:
        """Return the class name of a whole-file-labelled source file.

        Raises
        ------
        RecipeError
            If the file's label group has no entry in ``labels.map``.
        """
        spec = self.model.labels
        key = source.groups.get(spec.from_)
        mapping = {str(k): v for k, v in spec.map.items()}
        if key is None or key not in mapping:
            raise RecipeError(
                f"{source.path}: cannot label this file: its '{spec.from_}' is {key!r}, "
                f"expected one of {sorted(mapping)} (recipe '{self.name}', labels.map)."
            )
        return mapping[key]

    # -- source discovery ----------------------------------------------------------------
    def discover(self, data_root: Path) -> list[SourceFile]:
        """List the recipe's files present under ``data_root``, sorted by path.

        Parameters
        ----------
        data_root : Path
            Root folder holding one sub-folder per dataset (``source.folder``).

        Returns
        -------
        list of SourceFile
            Files whose path relative to the dataset folder matches ``source.pattern``.

        Raises
        ------
        FileNotFoundError
            If the dataset folder does not exist or holds no matching file.
        """
        folder = Path(data_root) / self.source["folder"]
        confine(folder, Path(data_root), "source.folder", self.name)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"Dataset '{self.name}': folder {folder} does not exist. Set paths.data_root "
                f"(or the EEGBENCH_DATA_ROOT environment variable) to the folder that holds "
                f"'{self.source['folder']}/', or download it from {self.source.get('base_url')}."
            )
        pattern = re.compile(self.source["pattern"])
        pinned = {str(k): str(v) for k, v in (self.source.get("sha256") or {}).items()}
        excludes = [(re.compile(rule.files), rule.reason) for rule in self.model.exclude]
        used_excludes: set[int] = set()
        found = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            rel = path.relative_to(folder).as_posix()
            match = pattern.fullmatch(rel)
            if match is None:
                continue
            confine(path, Path(data_root), "source.pattern", self.name)
            if not self.in_task(rel):
                continue
            rule_index = next((i for i, (rx, _) in enumerate(excludes) if rx.fullmatch(rel)),
                              None)
            if rule_index is not None:
                used_excludes.add(rule_index)
                logger.info("Dataset '%s': excluding %s (recipe exclude: %s)", self.name, rel,
                            excludes[rule_index][1] or "no reason given")
                continue
            # Metadata not in the file name (e.g. a single-subject set) comes from defaults.
            groups = {**{k: str(v) for k, v in (self.source.get("defaults") or {}).items()},
                      **{k: v for k, v in match.groupdict().items() if v is not None}}
            if "subject" not in groups:
                raise RecipeError(f"Recipe '{self.name}': no subject for {rel}; add a "
                                  "(?P<subject>...) group to source.pattern or "
                                  "source.defaults.subject.")
            companions = tuple(
                self._companion(folder, role, template, groups, pinned)
                for role, template in (self.source.get("companions") or {}).items()
            )
            found.append(SourceFile(path, rel, groups, pinned.get(rel), companions))
        unused = [excludes[i][0].pattern for i in range(len(excludes)) if i not in used_excludes]
        if unused:
            logger.warning("Dataset '%s': exclude rule(s) %s match no file (renamed or "
                           "already removed?)", self.name, unused)
        found_paths = {s.relpath for s in found}
        stray = sorted(rel for rel in (self.model.crop or {})
                       if rel not in found_paths and self.in_task(rel))
        if stray:
            logger.warning("Dataset '%s': crop entr(y/ies) %s name no discovered file (renamed, "
                           "excluded or absent?)", self.name, stray)
        if not found:
            raise FileNotFoundError(
                f"Dataset '{self.name}': no file in {folder} matches the recipe pattern "
                f"{self.source['pattern']!r}"
                + (f" outside its {len(excludes)} exclude rule(s)." if excludes else ".")
            )
        unpinned = [s.relpath for s in found if s.sha256 is None]
        unpinned += [c.relpath for s in found for c in s.companions if c.sha256 is None]
        if unpinned:
            logger.warning(
                "Dataset '%s': %d file(s) have no pinned sha256 in the recipe and are used "
                "unverified: %s", self.name, len(unpinned), ", ".join(unpinned[:5]),
            )
        return found

    def _companion(self, folder: Path, role: str, template: str, groups: dict[str, str],
                   pinned: dict[str, str]) -> Companion:
        """Resolve a companion path template (``{group}`` fields) and check it exists."""
        try:
            rel = fill_template(template, groups)
        except TemplateError as err:
            raise RecipeError(
                f"Invalid value for the 'source.companions.{role}' parameter of recipe "
                f"'{self.name}': {err} Fields are the named groups of source.pattern and "
                f"source.defaults: {sorted(groups)}."
            ) from None
        path = folder / rel
        confine(path, folder, f"source.companions.{role}", self.name)
        if not path.is_file():
            raise FileNotFoundError(
                f"Dataset '{self.name}': companion file {path} ({role}) is missing; recipe "
                f"template {template!r} with {groups}."
            )
        return Companion(role, path, rel, pinned.get(rel))


def load_recipe(name_or_path: str | Path, task: str | None = None) -> Recipe:
    """Load a recipe by built-in name (``physionet_eegmat``) or by YAML path.

    Parameters
    ----------
    name_or_path : str or Path
        A shipped recipe's name, or the path of a ``.yaml`` recipe.
    task : str, optional
        For a recipe declaring ``tasks``: the task to resolve (see :meth:`Recipe.for_task`);
        without it such a recipe can list and fetch its files but not be standardized. For a
        single-task recipe it is a label and ignored.

    Raises
    ------
    RecipeError
        If the recipe is unknown, lacks a required section, or has no task ``task``.
    """
    candidate = Path(name_or_path)
    known = sorted(p.stem for p in recipes_dir().glob("*.yaml"))
    if candidate.suffix in {".yaml", ".yml"} and candidate.is_file():
        path = candidate
    elif re.fullmatch(NAME_PATTERN, str(name_or_path)) and str(name_or_path) in known:
        path = recipes_dir() / f"{name_or_path}.yaml"
    else:
        raise RecipeError(
            f"Invalid value for the 'recipe' parameter. Allowed values are {known} or a "
            f"path to an existing .yaml recipe, but got {str(name_or_path)!r}."
        )
    try:
        raw = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RecipeError(f"Recipe {path} is not valid YAML{at} ({type(err).__name__}).") \
            from None
    if isinstance(raw, dict) and "task" in raw:
        raise RecipeError(f"Unknown key 'task' in {path}: a recipe declares its tasks under "
                          "'tasks' (one entry per task); 'dataset.task' selects one.")
    name = raw.get("name") if isinstance(raw, dict) else None
    recipe = Recipe(name=name if isinstance(name, str) else "", raw=raw, path=path)
    return recipe.for_task(task) if task else recipe


def select_subjects(recipe: Recipe, sources: list[SourceFile],
                    subjects: list[str] | None) -> list[SourceFile]:
    """Keep the sources of the requested ``subjects``; every requested subject must exist.

    A requested id matches a subject exactly or, failing that, numerically (``1`` matches
    ``01``: command-line overrides such as ``dataset.subjects=[00,01]`` arrive as integers).

    Raises
    ------
    RecipeError
        Naming every requested subject that has no file (and the subjects available).
    """
    if subjects is None:
        return sources
    available = sorted({s.subject for s in sources})

    def _resolve(wanted: str) -> str | None:
        if wanted in available:
            return wanted
        if wanted.lstrip("-").isdigit():
            numeric = [a for a in available if a.isdigit() and int(a) == int(wanted)]
            if len(numeric) == 1:
                return numeric[0]
        return None

    resolved = {str(w): _resolve(str(w)) for w in subjects}
    missing = [w for w, r in resolved.items() if r is None]
    if missing:
        raise RecipeError(
            f"Invalid value for the 'dataset.subjects' parameter of dataset '{recipe.name}': "
            f"subject(s) {missing} have no recording under the data root (after the recipe's "
            f"exclude rules). Allowed values are {available}."
        )
    keep = set(resolved.values())
    return [s for s in sources if s.subject in keep]


@functools.cache
def recipe_primary_metric(recipe: str, task: str | None = None) -> str:
    """Return a recipe's declared ``primary_metric`` (of ``task`` for a multi-task recipe).

    Without the key: ``roc_auc`` for binary ERP recipes (threshold-free, MOABB's choice for
    P300), else ``balanced_accuracy``; an unknown recipe gives ``balanced_accuracy``.
    """
    try:
        model = load_recipe(recipe, task).model
    except (RecipeError, OSError):
        return "balanced_accuracy"
    if model.primary_metric:
        return model.primary_metric
    if model.labels is None:  # a multi-task recipe without a task
        return "balanced_accuracy"
    binary_erp = model.paradigm == "erp" and len(model.labels.classes) == 2
    return "roc_auc" if binary_erp else "balanced_accuracy"
