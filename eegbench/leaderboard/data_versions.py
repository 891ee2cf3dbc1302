"""Verified equivalences of old data fingerprints, read before data versions are compared.

Rows of schema 4 carry a data fingerprint computed from the data code, the recipe, the source
files and the preprocessing; rows of schema 5 one computed from the windows' content
(:func:`eegbench.evaluation.identity.data_fingerprint`). Two schema-4 fingerprints can
therefore name bit-identical windows (a data-code change that changed no window), and a
schema-4 fingerprint the same windows as a schema-5 one. ``data_versions.yaml``, written
beside the shipped rows by ``benchmarks/verify_data_versions.py`` after rebuilding each old
version's windows with its own revision's code, maps each such old fingerprint to the content
fingerprint of its windows::

    version: 1
    data_versions:
    - dataset: physionet_eegmat
      task: rest_vs_arithmetic
      fingerprints:
      - old: 012d29ad85140d4c80089720      # the rows' schema-4 fingerprint
        content: 2314fc70b2e1999055147118  # the content fingerprint of its windows
        revision: <40-hex git revision whose code rebuilt the windows>
        checked: '2026-12-02'
        command: <the command that verified it>

The leaderboard compares :meth:`DataVersions.canonical` fingerprints: verified-identical
windows compare equal, and every fingerprint not listed stays a version of its own.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

#: File name of the equivalences, beside the shipped rows (or inside a results store folder).
DATA_VERSIONS_NAME = "data_versions.yaml"
#: The file format this module reads (top-level ``version``).
FORMAT_VERSION = 1
#: Keys every equivalence has, with what each must hold.
REQUIRED_KEYS = {"old": "a data fingerprint (hex)", "content": "a data fingerprint (hex)",
                 "revision": "a 40-hex git revision", "checked": "a date (YYYY-MM-DD)",
                 "command": "the command that verified it (text)"}
#: Keys an equivalence may also have (written by the verification script).
OPTIONAL_KEYS = ("rows_revisions", "windows", "current_code")
_HEX = re.compile(r"[0-9a-f]{8,64}")
_REVISION = re.compile(r"[0-9a-f]{40}")


class DataVersionsError(ValueError):
    """A malformed data-versions file (names the file, the entry and the key)."""


@dataclass(frozen=True)
class DataVersions:
    """Verified equivalences: ``(dataset, task, old fingerprint) -> content fingerprint``."""

    equivalences: Mapping[tuple[str, str, str], str] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def canonical(self, dataset: str, task: str, fingerprint: str) -> str:
        """Return the content fingerprint of ``fingerprint``'s windows (itself if unlisted)."""
        return self.equivalences.get((str(dataset), str(task), str(fingerprint)),
                                     str(fingerprint))

    def is_verified(self, dataset: str, task: str, fingerprint: str) -> bool:
        """Whether ``fingerprint`` is an old fingerprint or a content fingerprint listed here."""
        key = (str(dataset), str(task))
        return any(k[:2] == key and str(fingerprint) in (k[2], v)
                   for k, v in self.equivalences.items())

    def canonical_column(self, frame: pd.DataFrame) -> pd.Series:
        """Return ``frame``'s ``data_fingerprint`` mapped through :meth:`canonical` (NA kept)."""
        return pd.Series([None if pd.isna(fp) else self.canonical(ds, task, fp)
                          for ds, task, fp in zip(frame["dataset"], frame["task"],
                                                  frame["data_fingerprint"], strict=True)],
                         index=frame.index, dtype=object)


def _fail(source: str, where: str, message: str) -> DataVersionsError:
    return DataVersionsError(f"{source}: {where}: {message}.")


def _check_equivalence(item: Any, source: str, where: str) -> tuple[str, str]:
    if not isinstance(item, Mapping):
        raise _fail(source, where, f"expected a mapping with keys {sorted(REQUIRED_KEYS)}, "
                                   f"got {type(item).__name__}")
    unknown = sorted(set(item) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise _fail(source, where, f"unknown key(s) {unknown}; allowed: "
                                   f"{sorted(REQUIRED_KEYS) + sorted(OPTIONAL_KEYS)}")
    for key, expected in REQUIRED_KEYS.items():
        value = item.get(key)
        if value is None:
            raise _fail(source, where, f"missing key {key!r} ({expected})")
        if key in ("old", "content"):
            ok = isinstance(value, str) and _HEX.fullmatch(value)
        elif key == "revision":
            ok = isinstance(value, str) and _REVISION.fullmatch(value)
        elif key == "checked":
            ok = isinstance(value, dt.date) or (isinstance(value, str)
                                                and _is_date(value))
        else:
            ok = isinstance(value, str) and value.strip()
        if not ok:
            raise _fail(source, where, f"key {key!r}: expected {expected}, got {value!r}")
    optional = {"rows_revisions": lambda v: isinstance(v, list) and all(
                    isinstance(r, str) for r in v),
                "windows": lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
                "current_code": lambda v: isinstance(v, str) and bool(v.strip())}
    expected = {"rows_revisions": "a list of git revisions", "windows": "a positive count",
                "current_code": "a git revision"}
    for key, check in optional.items():
        if key in item and not check(item[key]):
            raise _fail(source, where, f"key {key!r}: expected {expected[key]}, got "
                                       f"{item[key]!r}")
    return item["old"], item["content"]


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def parse_data_versions(raw: Any, source: str) -> DataVersions:
    """Validate the parsed content of a data-versions file (``source`` names it in errors).

    Raises
    ------
    DataVersionsError
        Naming the file, the entry and the key that is missing or malformed, and what was
        expected; also when one old fingerprint is given two different content fingerprints.
    """
    if not isinstance(raw, Mapping):
        raise _fail(source, "top level", "expected a mapping with keys 'version' and "
                                         f"'data_versions', got {type(raw).__name__}")
    if raw.get("version") != FORMAT_VERSION:
        raise _fail(source, "key 'version'", f"expected {FORMAT_VERSION}, got "
                                             f"{raw.get('version')!r}")
    unknown = sorted(set(raw) - {"version", "data_versions"})
    if unknown:
        raise _fail(source, "top level", f"unknown key(s) {unknown}; allowed: "
                                         "['data_versions', 'version']")
    entries = raw.get("data_versions")
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise _fail(source, "key 'data_versions'", "expected a list of entries (dataset, "
                                                   f"task, fingerprints), got "
                                                   f"{type(entries).__name__}")
    equivalences: dict[tuple[str, str, str], str] = {}
    for index, entry in enumerate(entries):
        where = f"data_versions[{index}]"
        if not isinstance(entry, Mapping):
            raise _fail(source, where, f"expected a mapping with keys 'dataset', 'task' and "
                                       f"'fingerprints', got {type(entry).__name__}")
        unknown = sorted(set(entry) - {"dataset", "task", "fingerprints"})
        if unknown:
            raise _fail(source, where, f"unknown key(s) {unknown}; allowed: ['dataset', "
                                       "'fingerprints', 'task']")
        for key in ("dataset", "task"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise _fail(source, f"{where}, key {key!r}",
                            f"expected a {key} name, got {entry.get(key)!r}")
        items = entry.get("fingerprints")
        if not isinstance(items, list) or not items:
            raise _fail(source, f"{where} ({entry['dataset']} / {entry['task']}), key "
                                "'fingerprints'", f"expected a non-empty list, got {items!r}")
        for number, item in enumerate(items):
            old, content = _check_equivalence(
                item, source, f"{where}.fingerprints[{number}] ({entry['dataset']} / "
                              f"{entry['task']})")
            key = (entry["dataset"], entry["task"], old)
            if equivalences.get(key, content) != content:
                raise _fail(source, f"{where}.fingerprints[{number}]",
                            f"old fingerprint {old} is listed with two content fingerprints "
                            f"({equivalences[key]} and {content})")
            equivalences[key] = content
    return DataVersions(equivalences, (source,))


def load_data_versions(path: Path) -> DataVersions:
    """Read and validate a data-versions file (:func:`parse_data_versions`).

    Raises
    ------
    DataVersionsError
        If the file is not valid YAML or is malformed.
    FileNotFoundError
        If ``path`` does not exist.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DataVersionsError(f"{path}: not valid YAML{at} ({type(err).__name__}).") \
            from None
    return parse_data_versions(raw, str(path))


def data_versions_of(sources: Sequence[Path] | Path | str) -> DataVersions:
    """Return the equivalences that apply to rows read from ``sources`` (combined).

    A ``.jsonl`` rows file uses the :data:`DATA_VERSIONS_NAME` file beside it, a results store
    folder the one inside it; a source without one adds no equivalence.

    Raises
    ------
    DataVersionsError
        If a file is malformed, or two files give one old fingerprint different content
        fingerprints.
    """
    sources = [sources] if isinstance(sources, str | Path) else list(sources)
    merged: dict[tuple[str, str, str], str] = {}
    read: list[str] = []
    for source in map(Path, sources):
        path = (source.parent if source.suffix == ".jsonl" else source) / DATA_VERSIONS_NAME
        if not path.is_file() or str(path) in read:
            continue
        versions = load_data_versions(path)
        for key, content in versions.equivalences.items():
            if merged.get(key, content) != content:
                raise DataVersionsError(f"{path}: old fingerprint {key[2]} ({key[0]} / "
                                        f"{key[1]}) is {content}, but {read} says "
                                        f"{merged[key]}.")
            merged[key] = content
        read.append(str(path))
    return DataVersions(merged, tuple(read))
