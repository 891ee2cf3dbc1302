"""Content-addressed, memory-mapped cache of standardized windows.

An entry lives in ``<cache_root>/<recipe>/<key>/`` where ``key`` hashes the recipe, the source
files' sha256 (companions included), the preprocessing parameters, the cache format version and
the code of the standardization modules (so a code change never reuses stale windows; see
:func:`code_modules`). It holds ``X.npy`` (float32 windows, read with ``mmap_mode='r'``),
``meta.csv`` (one row per window) and ``manifest.json``, which records the sha256 and size of
both data files. Entries are built one recording at a time (peak memory is one recording, not
the dataset; for ``preprocess=gpu_fused`` one bounded batch of recordings, see
:mod:`eegbench.data.batched`) in a temporary folder and renamed into place (atomic), under a
file lock so that concurrent jobs build each entry once (:func:`eegbench.atomic.build_entry`,
the one implementation every cache uses).

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
import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eegbench import atomic
from eegbench.code_fingerprint import source_hash, static_closure
from eegbench.data import relative_amplitude
from eegbench.data.batched import iter_standardized
from eegbench.data.presence import check_recordings_present
from eegbench.data.recipe import (
    Recipe,
    RecipeError,
    SourceFile,
    select_subjects,
    verify_checksums_keyed,
)
from eegbench.data.standardize import PreprocessSpec
from eegbench.data.windows import (
    ENTRY_FILES,
    WindowsDataset,
    check_subject_classes,
    read_entry,
    shape_problem,
    subjects_missing_classes,
)

__all__ = ["CACHE_FORMAT_VERSION", "WindowsDataset", "cache_key", "check_recordings_present",
           "check_subject_classes", "code_fingerprint", "code_modules", "entry_content_key",
           "entry_problem", "load_windows", "manifest_digest", "manifest_signature",
           "resolve_cache_key", "subjects_missing_classes"]

logger = logging.getLogger(__name__)

#: Bump when the on-disk layout changes meaning (3: manifests signed with ``manifest_hmac``).
CACHE_FORMAT_VERSION = 3

#: Re-exported: the manifest digests live in :mod:`eegbench.atomic`.
manifest_digest = atomic.manifest_digest
manifest_signature = atomic.manifest_signature

#: The package whose modules make windows (see :func:`code_modules`).
_DATA_PACKAGE = "eegbench.data"


def code_modules() -> dict[str, Path]:
    """Return ``{module: file}`` of the code that standardizes windows (part of the key).

    The static import closure of this module (:func:`eegbench.code_fingerprint.static_closure`:
    module- and function-level imports, followed transitively), kept to the modules of the
    ``eegbench.data`` package (``eegbench.data.preprocess`` included). A module that the
    standardization imports is covered however it is named, and a renamed or new one
    automatically; modules it does not import (the ``python -m eegbench.data`` command line,
    the catalogue, fetching and pinning, the MOABB bridge, which has its own key) make no
    windows and are left out, so changing them keeps every cache entry. The lower utility
    modules (:mod:`eegbench.atomic`, :mod:`eegbench.hashing`) write and check entries but do
    not change their windows, and are left out too.
    """
    closure = static_closure([__name__], ["eegbench"])
    return {name: path for name, path in sorted(closure.items())
            if name == _DATA_PACKAGE or name.startswith(_DATA_PACKAGE + ".")}


def code_fingerprint() -> str:
    """Return a hash of the standardization code (part of every cache key).

    The docstring-free syntax trees (:func:`eegbench.code_fingerprint.source_hash`) of
    :func:`code_modules`: a reworded docstring or comment keeps the key.
    """
    modules = {name: source_hash(path) for name, path in code_modules().items()}
    return hashlib.sha256(json.dumps(sorted(modules.items())).encode()).hexdigest()[:16]


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


def entry_content_key(key: str, content_keys: dict[str, str]) -> bytes:
    """Return the secret that signs entry ``key``'s manifest: a hash of its sources' content keys.

    ``content_keys`` maps each source file (companions included) to its content key
    (:func:`eegbench.hashing.file_digests`).
    """
    payload = json.dumps({"key": key, "files": dict(sorted(content_keys.items()))},
                         sort_keys=True).encode()
    return hashlib.sha256(payload).digest()


def _windows_problem(key_required: bool):
    def extra(entry: Path, manifest: dict[str, Any]) -> str | None:
        if key_required and manifest.get("key") != entry.name:
            return f"manifest.json names the key {manifest.get('key')!r}, not {entry.name!r}"
        if sorted(manifest["file_bytes"]) != sorted(ENTRY_FILES):
            return f"manifest.json records {sorted(manifest['file_bytes'])}, not {ENTRY_FILES}"
        return shape_problem(entry, manifest)
    return extra


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
    return atomic.entry_problem(entry, verify, content_key,
                                extra=_windows_problem(content_key is not None),
                                signer="recordings")


def _write_entry(recipe: Recipe, sources: list[SourceFile], spec: PreprocessSpec,
                 tmp: Path) -> dict[str, Any]:
    """Standardize every source into ``tmp`` (``X.npy``, ``meta.csv``); return the manifest.

    Peak memory is one recording (one bounded batch of recordings for ``gpu_fused``), not
    the dataset. Each recording's quality report goes into the manifest (``quality``);
    recordings the quality policy leaves out have no windows.
    """
    parts: list[tuple[str, Path, int, list[dict[str, Any]]]] = []
    info = None
    first_shape: tuple[int, ...] = ()
    reports: list[dict[str, Any]] = []
    amplitudes: dict[str, np.ndarray] = {}
    for i, done in enumerate(iter_standardized(recipe, sources, spec)):
        reports.append(done.quality.to_dict())
        if done.windows is None:  # left out by the quality policy
            continue
        source, windows, file_info = done.source, done.windows, done.info
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
        parts.append((source.relpath, part, len(windows), done.rows))
        amplitudes[source.relpath] = relative_amplitude.robust_amplitude(windows)
        logger.info("cached %s (%d windows) [%d/%d]", source.relpath, len(windows), i + 1,
                    len(sources))
        del windows, done
    if info is not None:
        dropped = relative_amplitude.apply(recipe, amplitudes, info, reports)
        for _, part, _, _ in (p for p in parts if p[0] in dropped):
            part.unlink()
        parts = [p for p in parts if p[0] not in dropped]
        if not parts:
            info = None
    if info is None:
        raise RecipeError(f"Dataset '{recipe.name}': every recording was left out by the "
                          "quality policy 'drop_file'; nothing to cache.")
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
    pd.DataFrame(rows).to_csv(tmp / "meta.csv", index=False)
    return {**info, "n_windows": n_total, "x_nbytes": n_total * int(np.prod(first_shape)) * 4,
            "quality": sorted(reports, key=lambda r: r["file"])}


def _check_writable(entry: Path, problem: str) -> None:
    """Raise a clear error when ``entry`` must be (re)built but its folder is read-only."""
    folder = atomic.writable_folder(entry)
    if folder is not None:
        state = "missing" if problem == "missing" else f"unusable ({problem})"
        raise RecipeError(
            f"Cache entry {entry} is {state} and the cache folder {folder} is not writable, so "
            "it cannot be built. Set paths.cache_dir (or EEGBENCH_CACHE_DIR) to a writable "
            "folder, or rebuild the entry where the cache is writable.")


def _build(recipe: Recipe, sources: list[SourceFile], spec: PreprocessSpec, entry: Path,
           hashes: dict[str, str], verify: str, content_key: bytes) -> None:
    """Build ``entry`` atomically under its lock, its manifest signed with ``content_key``."""
    t0 = time.perf_counter()

    def write(tmp: Path) -> tuple[dict[str, Any], list[str]]:
        manifest = _write_entry(recipe, sources, spec, tmp)
        crops = {s.relpath: recipe.crop_of(s) for s in sources if recipe.crop_of(s)}
        manifest.update(classes=recipe.classes, recipe=recipe.name, task=recipe.task,
                        crops=crops, key=entry.name, preprocess=asdict(spec), files=hashes,
                        format=CACHE_FORMAT_VERSION, code=code_fingerprint())
        return manifest, list(ENTRY_FILES)

    if atomic.build_entry(entry, write, lambda e: entry_problem(e, verify, content_key),
                          content_key):
        logger.info("built cache entry %s in %.1f s", entry, time.perf_counter() - t0)


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
        For a recipe resolved for one of its ``targets``, with each window's numeric target
        (:func:`eegbench.data.targets.attach_target`).
    """
    sources, hashes, key, content_key = _resolve_entry(recipe, data_root, spec, subjects)
    entry = Path(cache_root) / recipe.name / key
    problem = entry_problem(entry, verify, content_key)
    if problem is None:  # valid: used as is, nothing written (works on a read-only cache)
        logger.info("using cache entry %s", entry)
    else:
        _check_writable(entry, problem)
        _build(recipe, sources, spec, entry, hashes, verify, content_key)
    ds = read_entry(entry)
    if recipe.is_regression:  # the numeric target of each window, read from its table
        from eegbench.data.targets import attach_target

        ds = attach_target(ds, recipe, data_root)
    return ds
