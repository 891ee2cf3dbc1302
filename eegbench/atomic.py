"""Atomic, self-verifying folders and files: the one implementation every cache uses.

A *folder entry* (a cache entry of windows, of MOABB windows, of features) is built once:

1. under a file lock (``<entry>.lock``, :mod:`filelock`), so that concurrent jobs build it
   once; the entry is checked again once the lock is held (another job may have built it);
2. into a private temporary folder next to it (``.<name>.*``; partial builds left by a killed
   job are removed first);
3. with a ``manifest.json`` recording the size and sha256 of every data file, the sha256 of
   its own canonical JSON (``manifest_sha256``) and, when the caller has a secret, an
   HMAC-SHA256 signature of it (``manifest_hmac``);
4. every file and the folder fsynced, then renamed into place (:func:`os.replace`) and the
   parent folder fsynced.

Readers call :func:`entry_problem`, which returns why an entry is unusable (missing, partial,
edited manifest, missing or wrong signature, wrong size, wrong sha256) or None; a valid entry
is used without writing anything (no lock file), so a cache on a read-only share works.
:func:`write_json_atomic` is the single-file version (temp file, fsync, rename) used by the
results store.

The signature keys are the callers' business: the window cache keys it with the content keys
of the source recordings (:func:`eegbench.hashing.file_digests`), which nobody can derive
without the recordings' bytes, so a manifest edited and re-checksummed by hand is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from filelock import FileLock

from eegbench.hashing import sha256_of

logger = logging.getLogger(__name__)

#: Name of the manifest inside every folder entry.
MANIFEST = "manifest.json"

#: Manifest fields that hold digests of the manifest itself (left out of what they hash).
DIGEST_FIELDS = ("manifest_sha256", "manifest_hmac")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()

#: Mode of the single files :func:`write_json_atomic` writes: the process's default, plus
#: group read.
FILE_MODE = (0o666 & ~_UMASK) | 0o040


def _manifest_body(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k not in DIGEST_FIELDS}
    return json.dumps(body, sort_keys=True).encode()


def manifest_digest(manifest: dict[str, Any]) -> str:
    """Return the sha256 of a manifest's canonical JSON, its own digest fields left out."""
    return hashlib.sha256(_manifest_body(manifest)).hexdigest()


def manifest_signature(manifest: dict[str, Any], secret: bytes) -> str:
    """Return the HMAC-SHA256 of a manifest's canonical JSON keyed with ``secret``."""
    return hmac.new(secret, _manifest_body(manifest), hashlib.sha256).hexdigest()


def _fsync_path(path: Path) -> None:
    """Flush a file or a folder to disk (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on folders
        pass
    finally:
        os.close(fd)


def seal_manifest(folder: Path, manifest: dict[str, Any], files: Iterable[str],
                  secret: bytes | None = None) -> dict[str, Any]:
    """Record the data ``files`` of ``folder`` in ``manifest`` and write ``manifest.json``.

    Adds ``file_bytes`` and ``file_sha256`` (one entry per file name), ``manifest_sha256``
    and, with ``secret``, ``manifest_hmac``; every file is fsynced first.

    Returns
    -------
    dict
        The manifest as written.
    """
    names = list(files)
    for name in names:
        _fsync_path(folder / name)
    manifest = {**manifest,
                "file_bytes": {n: (folder / n).stat().st_size for n in names},
                "file_sha256": {n: sha256_of(folder / n) for n in names}}
    manifest["manifest_sha256"] = manifest_digest(manifest)
    if secret is not None:
        manifest["manifest_hmac"] = manifest_signature(manifest, secret)
    with open(folder / MANIFEST, "w") as fh:
        fh.write(json.dumps(manifest, indent=1))
        fh.flush()
        os.fsync(fh.fileno())
    return manifest


def read_manifest(entry: Path) -> dict[str, Any]:
    """Return the parsed ``manifest.json`` of ``entry`` (no check; see :func:`entry_problem`)."""
    return json.loads((entry / MANIFEST).read_text())


def entry_problem(entry: Path, verify: str = "sha256", secret: bytes | None = None,
                  extra: Callable[[Path, dict[str, Any]], str | None] | None = None,
                  signer: str = "sources") -> str | None:
    """Return why the folder entry ``entry`` is unusable, or None when it is valid.

    Parameters
    ----------
    entry : Path
        The entry folder.
    verify : {"sha256", "size"}
        ``sha256`` re-hashes every data file (streamed, constant memory) and compares with
        the manifest; ``size`` only compares sizes.
    secret : bytes, optional
        The key the manifest must be signed with (``manifest_hmac``); without it only the
        manifest's self-checksum is checked.
    extra : callable, optional
        ``extra(entry, manifest)`` returns a further problem of a manifest that passed the
        generic checks (before the data files are hashed), or None.
    signer : str
        What ``secret`` stands for, named in the message of a bad signature.
    """
    if not entry.exists():
        return "missing"
    if not (entry / MANIFEST).is_file():
        return f"no {MANIFEST} (partial entry)"
    try:
        info = read_manifest(entry)
        if not isinstance(info, dict):
            return f"{MANIFEST} holds {type(info).__name__}, not an object"
        if info.get("manifest_sha256") != manifest_digest(info):
            return (f"{MANIFEST} was modified after the entry was built (its sha256 differs "
                    "from the recorded manifest_sha256)" if "manifest_sha256" in info else
                    f"{MANIFEST} has no manifest_sha256 (older or hand-made entry)")
        if secret is not None and info.get("manifest_hmac") != manifest_signature(info, secret):
            return (f"{MANIFEST} is not signed by the {signer} it names (its manifest_hmac is "
                    "missing or wrong: a forged or hand-made manifest, or an entry of an older "
                    "eegbench)")
        sizes, digests = info["file_bytes"], info["file_sha256"]
        for name, size in sizes.items():
            path = entry / name
            if not path.is_file():
                return f"{name} is missing"
            if path.stat().st_size != int(size):
                return f"{name} has {path.stat().st_size} bytes, manifest says {size}"
        if extra is not None and (problem := extra(entry, info)) is not None:
            return problem
        if verify == "sha256":
            for name in sizes:
                if sha256_of(entry / name) != digests[name]:
                    return f"{name} sha256 differs from the manifest (corrupt bytes)"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        return f"unreadable ({type(err).__name__}: {err})"
    return None


def writable_folder(entry: Path) -> Path | None:
    """Return the closest existing folder above ``entry`` if it is not writable, else None."""
    folder = entry.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return None if os.access(folder, os.W_OK | os.X_OK) else folder


def build_entry(entry: Path, build: Callable[[Path], tuple[dict[str, Any], list[str]]],
                problem: Callable[[Path], str | None], secret: bytes | None = None,
                what: str = "cache entry") -> bool:
    """Build the folder entry ``entry`` atomically under its lock, unless it is valid.

    Parameters
    ----------
    entry : Path
        Where the entry lives once built.
    build : callable
        ``build(tmp)`` writes the data files into the temporary folder ``tmp`` and returns
        ``(manifest, file_names)``: the manifest's own fields and the data files to record
        (see :func:`seal_manifest`).
    problem : callable
        ``problem(entry)`` returns why an existing entry is unusable, or None (usually
        :func:`entry_problem` with the caller's settings); checked once the lock is held.
    secret : bytes, optional
        Signs the manifest (``manifest_hmac``).
    what : str
        How the entry is named in the log.

    Returns
    -------
    bool
        True when this call built the entry, False when a valid one was found under the lock.
    """
    entry.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(entry) + ".lock"):
        found = problem(entry)
        if found is None:
            logger.info("using %s %s", what, entry)
            return False
        if entry.exists():
            logger.warning("%s %s is partial or corrupt (%s); rebuilding it", what, entry, found)
            shutil.rmtree(entry)
        # Left by a killed build (we hold the lock, so nobody else is building it).
        for stale in entry.parent.glob(f".{entry.name}.*"):
            logger.warning("removing stale partial build %s", stale)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        try:
            manifest, files = build(tmp)
            seal_manifest(tmp, manifest, files, secret)
            tmp.chmod(0o777 & ~_UMASK)  # mkdtemp makes it private; share it like any folder
            _fsync_path(tmp)
            os.replace(tmp, entry)
            _fsync_path(entry.parent)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return True


def write_json_atomic(path: Path, payload: Any, **dump_kwargs: Any) -> Path:
    """Write ``payload`` as JSON to ``path`` atomically (temp file, fsync, rename).

    The file is readable by the group (:data:`FILE_MODE`).
    """
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(payload, fh, **dump_kwargs)
            fh.flush()
            os.fchmod(fh.fileno(), FILE_MODE)
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_path(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
