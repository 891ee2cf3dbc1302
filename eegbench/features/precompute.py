"""Fold-invariant features computed once per dataset and cached like the windows.

A model may declare leading pipeline steps that learn nothing from the data (per-window
covariances, filter-bank covariances): their output for a window is the same in every fold.
:func:`precompute_fold_invariant` applies them to all windows of a dataset once and stores the
result in ``<cache_root>/features/<key>/`` (``F.npy`` read with ``mmap_mode='r'`` plus
``manifest.json`` with its size and sha256). The ``key`` hashes

* the windows themselves (sha256 of the array's bytes, shape and dtype, so a changed recording,
  preprocessing, subject subset or channel mapping never reuses an old result),
* the transform: each step's class, parameters and code (the docstring-free syntax trees of
  its module and the modules it imports from its own package,
  :func:`eegbench.code_fingerprint.code_fingerprint`), the step package's version and those of
  the numerical libraries,
* this module's code (with what it imports from eegbench) and :data:`FEATURES_FORMAT_VERSION`.

Entries are written to a temporary folder and renamed into place (atomic) under a file lock, so
concurrent jobs compute each entry once (:func:`eegbench.atomic.build_entry`, shared with the
window cache); an entry whose manifest, self-checksum, size or sha256 does not match is logged
and rebuilt. A valid entry is used without writing anything (no lock file), so a
cache on a read-only share works; an entry that must be computed there is a clear error.
Windows are transformed in batches (peak memory is one batch of windows plus the features); the
steps are per-window, so a batch gives the same numbers as the
whole array (tests/integration/test_feature_cache.py checks the predictions).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from eegbench import atomic
from eegbench.code_fingerprint import code_fingerprint, library_versions

logger = logging.getLogger(__name__)

#: Bump when the on-disk layout of a feature entry changes meaning (2: the manifest of
#: :mod:`eegbench.atomic`, with its self-checksum and per-file sizes and digests).
FEATURES_FORMAT_VERSION = 2

#: The data file of a feature entry.
FEATURES_FILE = "F.npy"

#: Windows per transform batch (float64 copy of 64 windows of 64 channels x 2048 samples is
#: 64 MiB; eegmat's 19 x 640 windows make 6 MiB).
BATCH_WINDOWS = 64


class TransformSteps:
    """Leading steps of a pipeline that learn nothing, applied in order (``transform`` only).

    Unlike a sliced :class:`sklearn.pipeline.Pipeline`, it does not require its last step to
    look fitted (pyriemann's ``Covariances`` has no fitted attribute).

    Parameters
    ----------
    steps : list of (str, transformer)
        Named transformers, already configured (e.g. ``sfreq``).
    """

    def __init__(self, steps: list[tuple[str, Any]]) -> None:
        self.steps = list(steps)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply every step's ``transform`` in order."""
        for _, step in self.steps:
            X = step.transform(X)
        return X


def array_fingerprint(X: np.ndarray, batch: int = 256) -> str:
    """Return the sha256 of an array's dtype, shape and bytes (read in batches of windows).

    Parameters
    ----------
    X : ndarray
        E.g. memory-mapped windows; never loaded whole.
    batch : int
        Leading-axis rows hashed per read.
    """
    digest = hashlib.sha256(json.dumps([str(X.dtype), list(X.shape)]).encode())
    for start in range(0, len(X), batch):
        digest.update(np.ascontiguousarray(X[start:start + batch]).tobytes())
    return digest.hexdigest()


def package_version(module_name: str) -> str:
    """Return the ``__version__`` of ``module_name``'s top-level package ("unknown" if none)."""
    top = module_name.split(".")[0]
    try:
        return str(getattr(importlib.import_module(top), "__version__", "unknown"))
    except ImportError:  # pragma: no cover - the step's own package is importable
        return "unknown"


def transform_fingerprint(steps: list[tuple[str, Any]]) -> dict[str, Any]:
    """Describe a list of (name, transformer) steps: classes, parameters, code, versions.

    Returns a JSON-serializable dict (parameters that are not plain JSON are stored by
    ``repr``).
    """
    described = []
    for name, step in steps:
        cls = type(step)
        described.append({
            "name": name,
            "class": f"{cls.__module__}.{cls.__qualname__}",
            "params": json.loads(json.dumps(step.get_params(deep=False), sort_keys=True,
                                            default=repr)),
            "source_sha256": code_fingerprint([cls.__module__]).source_digest,
            "package_version": package_version(cls.__module__),
        })
    return {
        "steps": described,
        "versions": library_versions(),
        "module_sha256": code_fingerprint([__name__]).source_digest,
        "format": FEATURES_FORMAT_VERSION,
    }


def feature_key(data_fingerprint: str, transform: dict[str, Any]) -> str:
    """Return the content hash that names a feature entry."""
    payload = {"data": data_fingerprint, "transform": transform}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def _shape_problem(entry: Path, manifest: dict[str, Any]) -> str | None:
    F = np.load(entry / FEATURES_FILE, mmap_mode="r")
    if list(F.shape) != list(manifest["shape"]) or str(F.dtype) != manifest["dtype"]:
        return (f"{FEATURES_FILE} holds {F.dtype} {list(F.shape)}, manifest says "
                f"{manifest['dtype']} {manifest['shape']}")
    return None


def _entry_problem(entry: Path) -> str | None:
    """Return why ``entry`` is unusable, or None (:func:`eegbench.atomic.entry_problem`)."""
    return atomic.entry_problem(entry, extra=_shape_problem)


def _check_writable(entry: Path) -> None:
    """Raise a clear error when ``entry`` must be built but its cache folder is read-only."""
    folder = atomic.writable_folder(entry)
    if folder is not None:
        raise PermissionError(
            f"Feature cache entry {entry} is {_entry_problem(entry)} and the cache folder "
            f"{folder} is not writable, so it cannot be computed. Set paths.cache_dir (or "
            "EEGBENCH_CACHE_DIR) to a writable folder, or run with feature_cache=false.")


def _compute(transformer: Any, X: np.ndarray, path: Path, batch_windows: int) -> tuple:
    """Transform ``X`` batch by batch (float64) and write the result to ``path`` (.npy)."""
    out = None
    for start in range(0, len(X), batch_windows):
        part = transformer.transform(np.asarray(X[start:start + batch_windows],
                                                dtype=np.float64))
        if out is None:
            out = np.lib.format.open_memmap(path, mode="w+", dtype=part.dtype,
                                            shape=(len(X), *part.shape[1:]))
        out[start:start + len(part)] = part
    if out is None:
        raise ValueError("Invalid value for the 'X' parameter: no windows to transform.")
    shape, dtype = out.shape, str(out.dtype)
    out.flush()
    del out
    return shape, dtype


def cached_transform(transformer: Any, X: np.ndarray, cache_root: str | Path,
                     batch_windows: int = BATCH_WINDOWS) -> np.ndarray:
    """Return ``transformer.transform(X)`` (float64 windows), computed once and cached.

    Parameters
    ----------
    transformer : sklearn Pipeline or transformer
        Steps that learn nothing from the data (already configured, e.g. ``sfreq``).
    X : ndarray, shape (n_windows, ...)
        The windows (memory-mapped is fine).
    cache_root : path
        Root of the cache; entries live in ``<cache_root>/features/<key>/``.
    batch_windows : int
        Windows transformed per batch.

    Returns
    -------
    ndarray
        The features, memory-mapped read-only from the cache entry.
    """
    steps = list(getattr(transformer, "steps", [(type(transformer).__name__, transformer)]))
    t0 = time.perf_counter()
    key = feature_key(array_fingerprint(X), transform_fingerprint(steps))
    entry = Path(cache_root) / "features" / key
    if _entry_problem(entry) is None:  # valid: used as is, nothing written (read-only cache)
        logger.info("using feature cache entry %s (%s; %.1f s)", entry,
                    " -> ".join(n for n, _ in steps), time.perf_counter() - t0)
        return np.load(entry / FEATURES_FILE, mmap_mode="r")
    _check_writable(entry)

    def write(tmp: Path) -> tuple[dict[str, Any], list[str]]:
        shape, dtype = _compute(transformer, X, tmp / FEATURES_FILE, batch_windows)
        logger.info("computed feature cache entry %s (%s, shape %s) in %.1f s", entry,
                    " -> ".join(n for n, _ in steps), shape, time.perf_counter() - t0)
        return ({"key": key, "shape": list(shape), "dtype": dtype,
                 "transform": transform_fingerprint(steps),
                 "compute_seconds": round(time.perf_counter() - t0, 3),
                 "format": FEATURES_FORMAT_VERSION}, [FEATURES_FILE])

    if not atomic.build_entry(entry, write, _entry_problem, what="feature cache entry"):
        logger.info("using feature cache entry %s (%s; %.1f s)", entry,
                    " -> ".join(n for n, _ in steps), time.perf_counter() - t0)
    return np.load(entry / FEATURES_FILE, mmap_mode="r")


def precompute_fold_invariant(model: Any, X: np.ndarray, signal: Any,
                              cache_root: str | Path, seed: int | None = None
                              ) -> np.ndarray | None:
    """Return the model's fold-invariant features of all windows ``X``, or None.

    ``model`` declares them through ``fold_invariant_transformer(signal, seed)`` (see
    :class:`eegbench.models.classical.SklearnModel`, and the frozen encoders of
    :mod:`eegbench.features.frozen_encoder`, whose random initialisation depends on ``seed``);
    a model without that method, or which returns None, has no fold-invariant steps.
    """
    get = getattr(model, "fold_invariant_transformer", None)
    transformer = get(signal, seed) if callable(get) else None
    if transformer is None:
        return None
    return cached_transform(transformer, X, cache_root)
