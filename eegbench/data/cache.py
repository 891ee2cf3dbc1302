"""Content-addressed, memory-mapped cache of standardized windows.

An entry lives in ``<cache_root>/<recipe>/<key>/`` where ``key`` hashes the recipe, the
source files' sha256 (companions included), the preprocessing parameters, the cache format
version and the source code of the standardization modules (so a code change never reuses
stale windows). It holds ``X.npy`` (float32 windows, read with ``mmap_mode='r'``),
``meta.csv`` (one row per window) and ``manifest.json``, which records the sha256 and size of
both data files. Entries are built one recording at a time (peak memory is one recording, not
the dataset; for ``preprocess=gpu_fused`` one bounded batch of recordings, see
:mod:`eegbench.data.batched`) in a temporary folder and renamed into place (atomic), under a
file lock so that concurrent jobs build each entry once.

On load, an entry whose manifest is missing or unreadable, whose manifest was edited (the
manifest carries the sha256 of its own canonical JSON, ``manifest_sha256``, so a changed
``sfreq`` or channel name is detected), whose manifest is not signed by the recordings it was
built from, or whose ``X.npy``/``meta.csv`` size, header or sha256 differs from the manifest,
is logged as corrupt and rebuilt. The signature (``manifest_hmac``) is an HMAC-SHA256 of the
manifest keyed with the content keys of the source recordings
(:func:`eegbench.hashing.file_digests`, computed in the same read as their sha256): anyone
can recompute a self-checksum after editing a manifest (or after replacing ``X.npy`` and its
recorded hashes), but not this signature without the recordings' bytes; when the cache folder is
not writable it is refused with a message naming the entry. A valid entry is used without
writing anything (no lock file), so a cache on a read-only share works.

Before the entry is looked up, every recording the recipe pins (``source.sha256``) for the
requested subjects must be present and readable: a deleted file or a symlink loop is an
error naming it, never a silently smaller dataset. Each recording's signal-quality report
(:mod:`eegbench.data.quality`: checks, invalid headers, the reader's other warnings) is stored
in the manifest (``quality``), after the dataset-level relative-amplitude check
(:mod:`eegbench.data.relative_amplitude`) has run over all recordings of the entry; the
manifest also records the recipe's ``task`` and the per-file ``crops`` applied.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from eegbench.data import quality, relative_amplitude
from eegbench.data.batched import iter_standardized
from eegbench.data.recipe import (
    Recipe,
    RecipeError,
    SourceFile,
    select_subjects,
    sha256_of,
    verify_checksums_keyed,
)
from eegbench.data.standardize import PreprocessSpec

logger = logging.getLogger(__name__)

def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()

#: Bump when the on-disk layout changes meaning (3: manifests signed with ``manifest_hmac``).
CACHE_FORMAT_VERSION = 3

#: Modules (relative to the ``eegbench`` package) whose source code is part of every cache key.
_CODE_MODULES = ("data/errors.py", "data/paths.py", "data/recipe.py", "data/recipe_schema.py",
                 "data/readers.py", "data/reader_warnings.py", "data/events.py",
                 "data/standardize.py", "data/units.py", "data/quality.py",
                 "data/relative_amplitude.py", "data/batched.py", "data/cache.py",
                 "data/preprocess/params.py", "data/preprocess/fused.py",
                 "data/preprocess/raw_backend.py")


def code_fingerprint() -> str:
    """Return a hash of the standardization code (part of every cache key)."""
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parents[1]
    for name in _CODE_MODULES:
        path = here / name
        if path.is_file():
            digest.update(name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class WindowsDataset:
    """Standardized windows of one dataset, with a metadata table.

    Attributes
    ----------
    X : ndarray, shape (n_windows, n_channels, n_times)
        Windows in the units named in ``info['units']`` (memory-mapped when from the cache).
    meta : DataFrame
        One row per window: subject, session, run, label, label_name, onset_s, source.
    info : dict
        ch_names, ch_types, ch_pos, sfreq, units, classes, recipe, cache key.
    """

    X: np.ndarray
    meta: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def y(self) -> np.ndarray:
        """Integer labels, one per window."""
        return self.meta["label"].to_numpy()

    @property
    def classes(self) -> list[str]:
        """Class names; label ``i`` is ``classes[i]``."""
        return list(self.info["classes"])


def cache_key(recipe: Recipe, file_hashes: dict[str, str], spec: PreprocessSpec) -> str:
    """Return the content hash that names a cache entry."""
    payload = {
        "format": CACHE_FORMAT_VERSION,
        "recipe": recipe.fingerprint(),
        "files": dict(sorted(file_hashes.items())),
        "preprocess": {k: v for k, v in asdict(spec).items()
                       if k not in PreprocessSpec.EXECUTION_FIELDS},
        "code": code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


#: Manifest fields that hold digests of the manifest itself (left out of what they hash).
_DIGEST_FIELDS = ("manifest_sha256", "manifest_hmac")


def _manifest_body(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k not in _DIGEST_FIELDS}
    return json.dumps(body, sort_keys=True).encode()


def manifest_digest(manifest: dict[str, Any]) -> str:
    """Return the sha256 of a manifest's canonical JSON, its own digest fields left out."""
    return hashlib.sha256(_manifest_body(manifest)).hexdigest()


def entry_content_key(key: str, content_keys: dict[str, str]) -> bytes:
    """Return the secret that signs entry ``key``'s manifest: a hash of its sources' content keys.

    ``content_keys`` maps each source file (companions included) to its content key
    (:func:`eegbench.hashing.file_digests`).
    """
    payload = json.dumps({"key": key, "files": dict(sorted(content_keys.items()))},
                         sort_keys=True).encode()
    return hashlib.sha256(payload).digest()


def manifest_signature(manifest: dict[str, Any], content_key: bytes) -> str:
    """Return the HMAC-SHA256 of a manifest's canonical JSON keyed with ``content_key``."""
    return hmac.new(content_key, _manifest_body(manifest), hashlib.sha256).hexdigest()


def entry_problem(entry: Path, verify: str = "sha256",
                  content_key: bytes | None = None) -> str | None:
    """Return why the cache entry ``entry`` is unusable, or None when it is valid.

    Parameters
    ----------
    entry : Path
        The entry folder.
    verify : {"sha256", "size"}
        ``sha256`` re-hashes ``X.npy`` and ``meta.csv`` (streamed, constant memory) and
        compares with the manifest; ``size`` only checks sizes and the ``.npy`` header.
    content_key : bytes, optional
        :func:`entry_content_key` of the recordings the entry must come from: its manifest
        must then carry their signature (``manifest_hmac``) and its folder's key. Without it
        (listing entries; MOABB entries, whose recordings MOABB reads) only the manifest's
        self-checksum is checked.
    """
    if not entry.exists():
        return "missing"
    manifest = entry / "manifest.json"
    if not manifest.is_file():
        return "no manifest.json (partial entry)"
    try:
        info = json.loads(manifest.read_text())
        if not isinstance(info, dict):
            return f"manifest.json holds {type(info).__name__}, not an object"
        if info.get("manifest_sha256") != manifest_digest(info):
            return ("manifest.json was modified after the entry was built (its sha256 differs "
                    "from the recorded manifest_sha256)" if "manifest_sha256" in info else
                    "manifest.json has no manifest_sha256 (older or hand-made entry)")
        if content_key is not None:
            if info.get("manifest_hmac") != manifest_signature(info, content_key):
                return ("manifest.json is not signed by the recordings it names (its "
                        "manifest_hmac is missing or wrong: a forged or hand-made manifest, or "
                        "an entry of an older eegbench)")
            if info.get("key") != entry.name:
                return f"manifest.json names the key {info.get('key')!r}, not {entry.name!r}"
        for name in ("X.npy", "meta.csv"):
            path = entry / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != int(info["file_bytes"][name]):
                return (f"{name} has {path.stat().st_size} bytes, manifest says "
                        f"{info['file_bytes'][name]}")
        X = np.load(entry / "X.npy", mmap_mode="r")
        if X.nbytes != int(info["x_nbytes"]) or X.shape[0] != int(info["n_windows"]):
            return f"X.npy shape {X.shape} does not match the manifest"
        del X
        if verify == "sha256":
            for name in ("X.npy", "meta.csv"):
                if sha256_of(entry / name) != info["file_sha256"][name]:
                    return f"{name} sha256 differs from the manifest (corrupt bytes)"
    except (OSError, ValueError, KeyError, TypeError) as err:
        return f"unreadable ({type(err).__name__}: {err})"
    return None


def _standardized_keeping_quality(recipe: Recipe, sources: list[SourceFile],
                                  spec: PreprocessSpec, reports: list[dict[str, Any]]):
    """:func:`iter_standardized`, collecting quality reports and skipping dropped files.

    A recording left out by the ``drop_file`` policy ends the inner generator; iteration
    resumes after the last recording that was yielded, without the dropped one.
    """
    todo = list(sources)
    while todo:
        done = 0
        try:
            for item in iter_standardized(recipe, todo, spec):
                done += 1
                report = quality.pop_report(item[0].relpath)
                if report is not None:
                    reports.append(report)
                yield item
            return
        except quality.DroppedRecording as dropped:
            reports.append(quality.pop_report(dropped.relpath) or dropped.report)
            todo = [s for s in todo[done:] if s.relpath != dropped.relpath]


def _build_entry(
    recipe: Recipe, sources: list[SourceFile], spec: PreprocessSpec, tmp: Path
) -> dict[str, Any]:
    """Standardize every source into ``tmp``.

    Peak memory is one recording (one bounded batch of recordings for ``gpu_fused``), not
    the dataset.
    """
    parts: list[tuple[str, Path, int, list[dict[str, Any]]]] = []
    info = None
    first_shape: tuple[int, ...] = ()
    reports: list[dict[str, Any]] = []
    amplitudes: dict[str, np.ndarray] = {}
    for i, (source, windows, file_rows, file_info) in enumerate(
        _standardized_keeping_quality(recipe, sources, spec, reports)
    ):
        if info is None:
            info = file_info
        elif (file_info["ch_names"], file_info["ch_types"]) != (info["ch_names"],
                                                                 info["ch_types"]):
            raise RecipeError(
                f"{source.path}: channels {file_info['ch_names']} ({file_info['ch_types']}) "
                f"differ from the first file's {info['ch_names']} ({info['ch_types']}) after "
                "standardization."
            )
        if parts and windows.shape[1:] != first_shape:
            raise RecipeError(f"{source.path}: window shape {windows.shape[1:]} differs from "
                              f"the first file's {first_shape} (sampling rate or window "
                              "length mismatch).")
        first_shape = windows.shape[1:]
        part = tmp / f"part{i:05d}.npy"
        np.save(part, windows)
        parts.append((source.relpath, part, len(windows), file_rows))
        amplitudes[source.relpath] = relative_amplitude.robust_amplitude(windows)
        logger.info("cached %s (%d windows) [%d/%d]", source.relpath, len(windows), i + 1,
                    len(sources))
        del windows
    if info is not None:
        dropped = relative_amplitude.apply(recipe, amplitudes, info, reports)
        parts = [p for p in parts if p[0] not in dropped]
        if not parts:
            info = None
    rows = [row for *_, file_rows in parts for row in file_rows]
    n_total = sum(n for _, _, n, _ in parts)
    # Stream the parts into one .npy with plain writes: unlike a writable memmap, this leaves
    # no dirty mapped pages, so resident memory stays at one recording's windows.
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
              "shape": (n_total, *first_shape)}
    with open(tmp / "X.npy", "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        for _, part, _, _ in parts:
            fh.write(np.ascontiguousarray(np.load(part), dtype="<f4").tobytes())
            part.unlink()
    nbytes = n_total * int(np.prod(first_shape)) * 4
    pd.DataFrame(rows).to_csv(tmp / "meta.csv", index=False)
    names = ("X.npy", "meta.csv")
    if info is None:
        raise RecipeError(f"Dataset '{recipe.name}': every recording was left out by the "
                          "quality policy 'drop_file'; nothing to cache.")
    return {
        **(info or {}), "n_windows": n_total, "x_nbytes": nbytes,
        "quality": sorted(reports, key=lambda r: r["file"]),
        "file_bytes": {n: (tmp / n).stat().st_size for n in names},
        "file_sha256": {n: sha256_of(tmp / n) for n in names},
    }


def _check_writable(entry: Path, problem: str) -> None:
    """Raise a clear error when ``entry`` must be (re)built but its folder is read-only."""
    folder = entry.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        state = "missing" if problem == "missing" else f"unusable ({problem})"
        raise RecipeError(
            f"Cache entry {entry} is {state} and the cache folder {folder} is not writable, so "
            "it cannot be built. Set paths.cache_dir (or EEGBENCH_CACHE_DIR) to a writable "
            "folder, or rebuild the entry where the cache is writable.")


def _build_locked(recipe: Recipe, sources: list[SourceFile], spec: PreprocessSpec, entry: Path,
                  hashes: dict[str, str], verify: str, content_key: bytes) -> None:
    """Build ``entry`` under its file lock (once, even with concurrent jobs).

    The manifest is signed with ``content_key`` (:func:`entry_content_key`).
    """
    key = entry.name
    entry.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(entry) + ".lock"):
        # another job may have built it meanwhile
        problem = entry_problem(entry, verify, content_key)
        if problem is None:
            logger.info("using cache entry %s", entry)
            return
        if entry.exists():
            logger.warning("cache entry %s is partial or corrupt (%s); rebuilding it",
                           entry, problem)
            shutil.rmtree(entry)
        # Left by a killed build (we hold the lock, so nobody else is building it).
        for stale in entry.parent.glob(f".{key}.*"):
            logger.warning("removing stale partial build %s", stale)
            shutil.rmtree(stale, ignore_errors=True)
        t0 = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=entry.parent))
        try:
            manifest = _build_entry(recipe, sources, spec, tmp)
            crops = {s.relpath: recipe.crop_of(s) for s in sources if recipe.crop_of(s)}
            manifest.update(
                classes=recipe.classes, recipe=recipe.name, task=recipe.task, crops=crops,
                key=key,
                preprocess=asdict(spec), files=hashes, format=CACHE_FORMAT_VERSION,
                code=code_fingerprint(),
            )
            manifest["manifest_sha256"] = manifest_digest(manifest)
            manifest["manifest_hmac"] = manifest_signature(manifest, content_key)
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
            tmp.chmod(0o777 & ~_UMASK)  # mkdtemp makes it private; share it like any folder
            os.replace(tmp, entry)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        logger.info("built cache entry %s in %.1f s", entry, time.perf_counter() - t0)


def check_recordings_present(recipe: Recipe, data_root: Path, sources: list[SourceFile],
                             subjects: set[str] | None = None) -> None:
    """Raise if a recording of the dataset has disappeared or cannot be read.

    Two kinds of vanished recordings are found: a path under the dataset folder matching
    the recipe's pattern that is a dangling symlink or a symlink loop, and a recording the
    recipe pins (``source.sha256``) that discovery did not find (deleted, renamed,
    unreadable) although other recordings of its subject are there (that subject would be
    evaluated on part of its data, e.g. one class). Only the requested ``subjects`` are
    checked when given.

    Raises
    ------
    RecipeError
        Naming every missing or unreadable recording.
    """
    folder = Path(data_root) / recipe.source["folder"]
    pattern = re.compile(recipe.source["pattern"])
    defaults = {k: str(v) for k, v in (recipe.source.get("defaults") or {}).items()}
    found = {s.relpath for s in sources}

    def _subject(rel: str) -> str | None:
        match = pattern.fullmatch(rel)
        if match is None:
            return None
        groups = {**defaults, **{k: v for k, v in match.groupdict().items() if v is not None}}
        return groups.get("subject")

    broken = []
    for path in folder.rglob("*"):
        if path.is_symlink() and not path.exists():  # dangling, or a loop (ELOOP)
            rel = path.relative_to(folder).as_posix()
            subject = _subject(rel)
            if subject is not None and (subjects is None or subject in subjects):
                broken.append(rel)
    present = {s.subject for s in sources}
    excluded = [re.compile(str(rule["files"])) for rule in (recipe.raw.get("exclude") or [])]
    missing = []
    for rel in (recipe.source.get("sha256") or {}):
        rel = str(rel)
        subject = _subject(rel)
        if subject is None or rel in found or rel in broken or not recipe.in_task(rel):
            continue  # a companion, present, or a file of another task
        if any(rx.fullmatch(rel) for rx in excluded):
            continue  # left out on purpose by the recipe's `exclude` (with its reason)
        # A subject with some of its recordings: the others have vanished. (A subject with
        # none is not in the dataset; requested-but-absent subjects are the recipe's check.)
        if subject in present and (subjects is None or subject in subjects):
            missing.append(rel)
    if broken or missing:
        parts = []
        if broken:
            parts.append(f"unreadable (dangling symlink or symlink loop): {sorted(broken)}")
        if missing:
            parts.append(f"pinned in the recipe's source.sha256 but not found: {sorted(missing)}")
        raise RecipeError(
            f"Dataset '{recipe.name}': recording(s) in {folder} have disappeared; "
            + "; ".join(parts) + ". Restore them (their subjects would otherwise be tested on "
            "part of their data), or remove their subjects from dataset.subjects.")


def subjects_missing_classes(ds: WindowsDataset) -> dict[str, list[str]]:
    """Return ``{subject: [classes it has no window of]}`` for incomplete subjects."""
    classes = list(ds.info["classes"])
    out = {}
    for subject, labels in ds.meta.groupby("subject", sort=True)["label"]:
        missing = [classes[i] for i in range(len(classes)) if i not in set(labels)]
        if missing:
            out[str(subject)] = missing
    return out


def check_subject_classes(ds: WindowsDataset) -> None:
    """Raise if a subject lacks a class (it would be tested on the other classes only).

    Raises
    ------
    RecipeError
        Naming every such subject and its missing classes.
    """
    incomplete = subjects_missing_classes(ds)
    if incomplete:
        raise RecipeError(
            f"Dataset '{ds.info.get('recipe')}': subject(s) without windows of some class: "
            + ", ".join(f"{s} lacks {c}" for s, c in incomplete.items())
            + ". A subject tested on one class gives a meaningless balanced accuracy and an "
            "undefined AUC; restore the missing recordings or leave these subjects out "
            "(dataset.subjects).")


def resolve_cache_key(recipe: Recipe, data_root: str | Path, spec: PreprocessSpec,
                      subjects: list[str] | None = None
                      ) -> tuple[list[SourceFile], dict[str, str], str]:
    """Return the source files, their sha256 and the cache key ``recipe`` would load from.

    Nothing is read beyond the source files' bytes (hashed) and nothing is written, so a
    caller can tell whether a result computed from a cache entry is still current (the key
    changes with the recipe, the recordings' content, the preprocessing and the code).

    Raises
    ------
    RecipeError
        A requested subject or a recording the recipe lists is missing (the message names
        it), or a recording's checksum does not match the recipe.
    """
    sources, hashes, key, _ = _resolve_entry(recipe, data_root, spec, subjects)
    return sources, hashes, key


def _resolve_entry(recipe: Recipe, data_root: str | Path, spec: PreprocessSpec,
                   subjects: list[str] | None) -> tuple[list[SourceFile], dict[str, str], str,
                                                        bytes]:
    """:func:`resolve_cache_key`, plus the entry's :func:`entry_content_key`."""
    recipe.require_task()
    # Every requested subject must exist (an error names the missing ones).
    sources = select_subjects(recipe, recipe.discover(Path(data_root)), subjects)
    hashes: dict[str, str] = {}
    content_keys: dict[str, str] = {}
    for source in sources:  # one read per file for its sha256 and its content key
        file_hashes, file_keys = verify_checksums_keyed(source)
        hashes.update(file_hashes)
        content_keys.update(file_keys)
    wanted = None if subjects is None else {str(s) for s in subjects}
    check_recordings_present(recipe, Path(data_root), sources, wanted)
    key = cache_key(recipe, hashes, spec)
    return sources, hashes, key, entry_content_key(key, content_keys)


def load_windows(
    recipe: Recipe,
    data_root: str | Path,
    spec: PreprocessSpec,
    cache_root: str | Path,
    subjects: list[str] | None = None,
    verify: str = "sha256",
) -> WindowsDataset:
    """Return the standardized windows of ``recipe``, building the cache entry if needed.

    Parameters
    ----------
    recipe : Recipe
        The dataset recipe.
    data_root : path
        Folder holding the dataset folder named by ``recipe.source['folder']``.
    spec : PreprocessSpec
        Preprocessing parameters (part of the cache key).
    cache_root : path
        Root folder of the cache.
    subjects : list of str, optional
        Restrict to these subject ids (the cache entry then holds only them).
    verify : {"sha256", "size"}
        How an existing cache entry is checked before use (see :func:`entry_problem`).

    Returns
    -------
    WindowsDataset
    """
    sources, hashes, key, content_key = _resolve_entry(recipe, data_root, spec, subjects)
    entry = Path(cache_root) / recipe.name / key
    problem = entry_problem(entry, verify, content_key)
    if problem is None:  # valid: used as is, nothing written (works on a read-only cache)
        logger.info("using cache entry %s", entry)
    else:
        _check_writable(entry, problem)
        _build_locked(recipe, sources, spec, entry, hashes, verify, content_key)
    info = json.loads((entry / "manifest.json").read_text())
    X = np.load(entry / "X.npy", mmap_mode="r")
    meta = pd.read_csv(entry / "meta.csv", dtype={"subject": str, "session": str, "run": str,
                                                   "event_code": str}, keep_default_na=False)
    info["cache_entry"] = str(entry)
    return WindowsDataset(X=X, meta=meta, info=info)
