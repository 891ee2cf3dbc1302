"""Content-addressed, memory-mapped cache of standardized windows.

An entry lives in ``<cache_root>/<recipe>/<key>/`` where ``key`` hashes the recipe, the
source files' sha256, the preprocessing parameters and the cache format version. It holds
``X.npy`` (float32 windows, read with ``mmap_mode='r'``), ``meta.csv`` (one row per window)
and ``manifest.json``, written last: an entry without a valid manifest is partial and is
rebuilt. Entries are built in a temporary folder and renamed into place (atomic), under a
file lock so that concurrent jobs build each entry once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from eegbench.data.readers import read_source
from eegbench.data.recipe import Recipe, RecipeError, SourceFile, verify_checksum
from eegbench.data.standardize import PreprocessSpec, standardize_file

logger = logging.getLogger(__name__)

#: Bump when the on-disk layout or the standardization code changes meaning.
CACHE_FORMAT_VERSION = 1


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
        "preprocess": asdict(spec),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def _entry_is_valid(entry: Path) -> bool:
    manifest = entry / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        info = json.loads(manifest.read_text())
        expected = int(info["x_nbytes"])
        X = np.load(entry / "X.npy", mmap_mode="r")
        meta_ok = (entry / "meta.csv").is_file()
        return meta_ok and X.nbytes == expected and X.shape[0] == int(info["n_windows"])
    except (OSError, ValueError, KeyError):
        return False


def _build_entry(
    recipe: Recipe, sources: list[SourceFile], spec: PreprocessSpec, tmp: Path
) -> dict[str, Any]:
    """Standardize every source into ``tmp``; peak memory is one recording, not the dataset."""
    parts, rows, info = [], [], None
    for i, source in enumerate(sources):
        raw = read_source(source, recipe)
        windows, file_rows, file_info = standardize_file(source, raw, recipe, spec)
        if info is None:
            info = file_info
        elif file_info["ch_names"] != info["ch_names"]:
            raise RecipeError(
                f"{source.path}: channels {file_info['ch_names']} differ from the first file's "
                f"{info['ch_names']} after standardization."
            )
        part = tmp / f"part{i:05d}.npy"
        np.save(part, windows)
        parts.append((part, len(windows)))
        rows.extend(file_rows)
        logger.info("cached %s (%d windows) [%d/%d]", source.relpath, len(windows), i + 1,
                    len(sources))
        del raw, windows
    n_total = sum(n for _, n in parts)
    first = np.load(parts[0][0], mmap_mode="r")
    X = np.lib.format.open_memmap(
        tmp / "X.npy", mode="w+", dtype=np.float32, shape=(n_total, *first.shape[1:])
    )
    offset = 0
    for part, n in parts:
        X[offset : offset + n] = np.load(part, mmap_mode="r")
        offset += n
        part.unlink()
    X.flush()
    nbytes = X.nbytes
    del X
    pd.DataFrame(rows).to_csv(tmp / "meta.csv", index=False)
    return {**(info or {}), "n_windows": n_total, "x_nbytes": nbytes}


def load_windows(
    recipe: Recipe,
    data_root: str | Path,
    spec: PreprocessSpec,
    cache_root: str | Path,
    subjects: list[str] | None = None,
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

    Returns
    -------
    WindowsDataset
    """
    sources = recipe.discover(Path(data_root))
    if subjects is not None:
        wanted = {str(s) for s in subjects}
        sources = [s for s in sources if s.subject in wanted]
        if not sources:
            raise RecipeError(f"Dataset '{recipe.name}': none of the subjects {sorted(wanted)} "
                              "were found.")
    hashes = {s.relpath: verify_checksum(s) for s in sources}
    key = cache_key(recipe, hashes, spec)
    entry = Path(cache_root) / recipe.name / key
    entry.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(entry) + ".lock"):
        for stale in entry.parent.glob(f".{key}.*"):  # left by a killed build (we hold the lock)
            logger.warning("removing %s, left behind by an interrupted cache build", stale)
            shutil.rmtree(stale, ignore_errors=True)
        if not _entry_is_valid(entry):
            if entry.exists():
                logger.warning("cache entry %s is partial or corrupt; rebuilding it", entry)
                shutil.rmtree(entry)
            t0 = time.perf_counter()
            tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=entry.parent))
            try:
                manifest = _build_entry(recipe, sources, spec, tmp)
                manifest.update(
                    classes=recipe.classes, recipe=recipe.name, key=key,
                    preprocess=asdict(spec), files=hashes, format=CACHE_FORMAT_VERSION,
                )
                (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
                os.replace(tmp, entry)
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
            logger.info("built cache entry %s in %.1f s", entry, time.perf_counter() - t0)
        else:
            logger.info("using cache entry %s", entry)
    info = json.loads((entry / "manifest.json").read_text())
    X = np.load(entry / "X.npy", mmap_mode="r")
    meta = pd.read_csv(entry / "meta.csv", dtype={"subject": str, "session": str, "run": str})
    info["cache_entry"] = str(entry)
    return WindowsDataset(X=X, meta=meta, info=info)
