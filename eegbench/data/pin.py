"""Write a recipe's pins from the files: ``python -m eegbench.data pin <recipe>``.

For a dataset author: :func:`pin_recipe` computes

* the ``source.sha256`` block: the sha256 of every recording (and companion file) the recipe
  finds under the data root. New files are added and changed ones updated; a pinned file that
  is absent locally keeps its pin (a partial download is not a smaller release);
* with ``counts=True``, ``expected.counts``: every file is standardized like the cache does
  (default preprocessing, the recipe's quality checks), its windows are counted per class, and
  a rule with its exact counts is put first in the list for each file whose counts the
  current rules do not give (or that no rule matches). Rules that hold are left as they are.
  For a recipe with ``tasks``, each task's counts go to ``tasks.<task>.expected.counts``.

The result is shown as a unified diff of the recipe file; ``write=True`` writes it. The file
is edited with ruamel.yaml's round-trip mode: comments, key order, quoting and flow style are
kept (a long flow sequence that was wrapped by hand may be joined on one line).
"""

from __future__ import annotations

import copy
import difflib
import io
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from eegbench.data.readers import read_recording
from eegbench.data.recipe import Recipe, RecipeError, SourceFile, load_recipe, sha256_of
from eegbench.data.standardize import (
    PreprocessSpec,
    filter_resample,
    read_checked,
    window_recording,
)

logger = logging.getLogger(__name__)

#: A rule that matches no file: lets a recipe without ``expected.counts`` be loaded to count.
_NO_FILE = "(?!)"
#: Characters that are special in a regular expression and occur in file names.
_SPECIAL = re.compile(r"([.^$*+?{}\[\]\\|()])")


@dataclass
class PinResult:
    """What :func:`pin_recipe` found and the recipe text it would write.

    Attributes
    ----------
    text, new_text : str
        The recipe file before and after.
    added, changed : dict
        ``{relpath: sha256}`` of newly pinned files and of pins whose hash changed.
    absent : list of str
        Pinned files not found under the data root (their pins are kept).
    new_rules : dict
        ``{task or "": [relpath, ...]}`` of the files given an exact count rule.
    errors : dict
        ``{relpath: message}`` of files that could not be standardized (no rule written).
    """

    text: str
    new_text: str
    added: dict[str, str] = field(default_factory=dict)
    changed: dict[str, str] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)
    new_rules: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def diff(self) -> str:
        """Unified diff of the recipe file (empty when nothing changes)."""
        return "".join(difflib.unified_diff(self.text.splitlines(keepends=True),
                                            self.new_text.splitlines(keepends=True),
                                            "recipe (now)", "recipe (pinned)"))


def regex_of(relpath: str) -> str:
    """A regular expression matching exactly ``relpath`` (readable: only specials escaped)."""
    return _SPECIAL.sub(r"\\\1", relpath)


def _round_trip() -> YAML:
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096  # never re-wrap a line
    rt.indent(mapping=2, sequence=4, offset=2)
    return rt


def _loadable(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with a never-matching count rule where counts are missing, so it validates."""
    raw = copy.deepcopy(raw)
    sections = [raw] if not raw.get("tasks") else list(raw["tasks"].values())
    for section in sections:
        labels = section.get("labels") or raw.get("labels") or {}
        classes = list(labels.get("classes") or [])
        expected = section.setdefault("expected", {})
        counts = expected.get("counts") or (raw.get("expected") or {}).get("counts")
        if not counts and classes:
            expected["counts"] = [{"files": _NO_FILE, "classes": {classes[0]: 0}}]
    return raw


def load_for_pinning(path: Path) -> Recipe:
    """Load the recipe at ``path``, accepting one without ``expected.counts`` yet."""
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict):
        return load_recipe(path)  # the loader's own error
    if "task" in raw:
        return load_recipe(path)
    return Recipe(name=str(raw.get("name")), raw=_loadable(raw), path=path)


def file_hashes(recipe: Recipe, data_root: Path) -> dict[str, str]:
    """``{relpath: sha256}`` of every recording and companion the recipe finds."""
    out = {}
    for source in recipe.discover(Path(data_root)):
        out[source.relpath] = sha256_of(source.path)
        for comp in source.companions:
            out[comp.relpath] = sha256_of(comp.path)
    return out


def count_windows(recipe: Recipe, data_root: Path, spec: PreprocessSpec | None = None
                  ) -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """Standardize each file of ``recipe`` (one task) and count its windows per class.

    Returns
    -------
    counts : dict
        ``{relpath: {class: n}}``.
    errors : dict
        ``{relpath: message}`` for files the checks refused (or the quality policy dropped).
    """
    spec = spec or PreprocessSpec()
    counts, errors = {}, {}
    for source in recipe.discover(Path(data_root)):
        try:
            raw, warnings = read_recording(source, recipe)
            rec = read_checked(source, raw, recipe, warnings)
            if rec.dropped:
                errors[source.relpath] = (f"{source.relpath}: left out by the quality policy "
                                          "'drop_file'")
                continue
            filtered = filter_resample(rec.raw, spec)
            _, rows, _ = window_recording(source, filtered, rec.events, recipe, check=False)
        except RecipeError as err:
            errors[source.relpath] = str(err).splitlines()[0]
            continue
        counts[source.relpath] = dict(Counter(r["label_name"] for r in rows))
        logger.info("counted %s: %s", source.relpath, counts[source.relpath])
    return counts, errors


def _satisfied(recipe: Recipe, source: SourceFile, found: dict[str, int]) -> bool:
    try:
        expected = recipe.expected_counts(source)
    except RecipeError:
        return False
    if any(cls not in expected for cls in found):
        return False
    return all(lo <= found.get(cls, 0) <= hi for cls, (lo, hi) in expected.items())


def _flow(mapping: dict[str, Any]) -> CommentedMap:
    out = CommentedMap(mapping)
    out.fa.set_flow_style()
    return out


def _rule(relpath: str, counts: dict[str, int], classes: list[str]) -> CommentedMap:
    ordered = {c: int(counts[c]) for c in classes if c in counts}
    return _flow({"files": SingleQuotedScalarString(regex_of(relpath)),
                  "classes": _flow(ordered)})


def pin_recipe(path: str | Path, data_root: str | Path, counts: bool = False,
               tasks: list[str] | None = None,
               spec: PreprocessSpec | None = None) -> PinResult:
    """Compute a recipe's ``source.sha256`` (and ``expected.counts``) from the files.

    Parameters
    ----------
    path : str or Path
        The recipe's YAML file (or a shipped recipe's name).
    data_root : path
        The folder holding the dataset folder.
    counts : bool
        Also count each file's windows per class and write rules for those the recipe does
        not describe.
    tasks : list of str, optional
        For a recipe with ``tasks``: only these (default all).
    spec : PreprocessSpec, optional
        Preprocessing used to cut the windows (default: the default preprocessing).

    Returns
    -------
    PinResult
        The diff and what changed; nothing is written (see :func:`write`).
    """
    path = Path(path) if Path(path).suffix in {".yaml", ".yml"} else load_recipe(path).path
    text = path.read_text()
    recipe = load_for_pinning(path)
    rt = _round_trip()
    doc = rt.load(text)
    result = PinResult(text=text, new_text=text)
    hashes = file_hashes(recipe, Path(data_root))
    pinned = {str(k): str(v) for k, v in (recipe.source.get("sha256") or {}).items()}
    result.added = {r: h for r, h in sorted(hashes.items()) if r not in pinned}
    result.changed = {r: h for r, h in sorted(hashes.items()) if r in pinned and pinned[r] != h}
    result.absent = sorted(set(pinned) - set(hashes))
    if result.added or result.changed:
        block = doc["source"].get("sha256")
        if block is None:
            block = doc["source"]["sha256"] = CommentedMap()
        for rel in sorted({**result.added, **result.changed}):
            key = next((k for k in block if str(k) == rel), SingleQuotedScalarString(rel))
            block[key] = hashes[rel]
    if counts:
        names = recipe.task_names or [""]
        for task in names if tasks is None else tasks:
            _pin_counts(recipe, task, doc, Path(data_root), spec, result)
    out = io.StringIO()
    rt.dump(doc, out)
    result.new_text = out.getvalue()
    return result


def _pin_counts(recipe: Recipe, task: str, doc: Any, data_root: Path,
                spec: PreprocessSpec | None, result: PinResult) -> None:
    """Add exact count rules to ``doc`` for the files of ``task`` the rules do not describe."""
    resolved = recipe.for_task(task) if task else recipe
    found, errors = count_windows(resolved, data_root, spec)
    result.errors.update(errors)
    sources = {s.relpath: s for s in resolved.discover(data_root)}
    todo = [rel for rel in sorted(found) if not _satisfied(resolved, sources[rel], found[rel])]
    if not todo:
        return
    result.new_rules[task] = todo
    if task:
        section = doc["tasks"][task]
        expected = section.get("expected")
        if expected is None:
            expected = section["expected"] = CommentedMap()
        if expected.get("counts") is None:  # it used the top-level rules: keep them after
            top = (doc.get("expected") or {}).get("counts") or []
            expected["counts"] = CommentedSeq(copy.deepcopy(list(top)))
    else:
        expected = doc.get("expected")
        if expected is None:
            expected = doc["expected"] = CommentedMap()
        if expected.get("counts") is None:
            expected["counts"] = CommentedSeq()
    rules = expected["counts"]
    for rel in reversed(todo):
        rules.insert(0, _rule(rel, found[rel], resolved.classes))


def write(result: PinResult, path: str | Path) -> None:
    """Write the pinned recipe text to ``path`` (checked to load first).

    Raises
    ------
    RecipeError
        If the new text does not load as a recipe (nothing is written then).
    """
    path = Path(path)
    probe = path.with_name(f".{path.name}.pinned.yaml")
    probe.write_text(result.new_text)
    try:
        recipe = load_recipe(probe)
        for task in recipe.task_names:
            recipe.for_task(task)
    finally:
        probe.unlink()
    path.write_text(result.new_text)
