"""Hugging Face Hub checkpoints: ``hf://owner/repo[@revision]/path/to/file``, pinned.

A hub reference names a repository, optionally a revision, and a file::

    hf://braindecode/labram-pretrained@<40-hex commit>/model.safetensors

A result must be traceable to the exact bytes that produced it, so a reference must be pinned
(:func:`pin_status`) in one of two ways:

- **by content**: the caller (or the known-checkpoints registry) gives the file's sha256; the
  file may then come from any revision, the default branch included, and is verified byte for
  byte (a changed byte upstream is refused, naming the expected and the found sha256);
- **by revision**: a full 40-hex commit; the server must answer with that commit, and the
  sha256 of what it serves is recorded.

A branch or tag (or no revision, meaning ``main``) without a sha256 is refused unless
``allow_unpinned=True`` is passed explicitly; its rows are then keyed by the commit it resolved
to and the sha256 of the bytes downloaded (:class:`HubFile`), so weights that moved upstream
never reuse an old result. Paths that could leave the repository (``..``, absolute paths, empty
segments, backslashes) and malformed repository ids are refused before any network access.

Downloads go through :func:`huggingface_hub.hf_hub_download` into
``$EEGBENCH_WEIGHTS_DIR/hub`` when that variable is set, else into huggingface_hub's own cache
(``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or ``~/.cache/huggingface/hub``); beside each download a
small record (commit, sha256, size) is written into the cache (:func:`record_path`). The
endpoint (``$HF_ENDPOINT``), the cache and offline mode (``$HF_HUB_OFFLINE=1``: only the local
cache is used, a warm cache is enough) are read when a file is requested, not when the package
is imported.
"""

from __future__ import annotations

import json
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from eegbench.hashing import sha256_of

logger = logging.getLogger(__name__)

WEIGHTS_ENV = "EEGBENCH_WEIGHTS_DIR"
HF_PREFIX = "hf://"

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Hugging Face repository ids: "owner/name", letters, digits, "-", "_", "."; no "--" or "..".
_REPO_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$")
_FILE_PART = re.compile(r"^[A-Za-z0-9._+=@-][A-Za-z0-9._ +=@-]*$")


class HubReferenceError(ValueError):
    """A ``hf://`` reference is malformed or not pinned."""


@dataclass(frozen=True)
class HubReference:
    """A parsed ``hf://owner/repo@revision/filename`` reference."""

    repo_id: str
    filename: str
    revision: str | None = None

    @property
    def pinned(self) -> bool:
        """True when the revision is a full 40-hex commit hash."""
        return bool(self.revision and _COMMIT.fullmatch(self.revision))

    def __str__(self) -> str:
        rev = f"@{self.revision}" if self.revision else ""
        return f"{HF_PREFIX}{self.repo_id}{rev}/{self.filename}"


def _refuse(source: str, why: str) -> HubReferenceError:
    return HubReferenceError(
        f"Invalid value for the 'checkpoint' parameter: {source!r} {why}. Expected "
        f"hf://<owner>/<repo>@<40-hex commit>/<path/to/file> (e.g. "
        f"hf://braindecode/labram-pretrained@{'0' * 40}/model.safetensors).")


def parse_hub_reference(source: str) -> HubReference:
    """Parse and validate ``hf://owner/repo[@revision]/path/to/file``.

    Parameters
    ----------
    source : str
        The reference.

    Returns
    -------
    HubReference
        Repository id, revision (None if absent) and file path inside the repository.

    Raises
    ------
    HubReferenceError
        For a missing owner, repository or file name, a repository id that Hugging Face would
        reject, or a file path that is absolute, empty, contains ``.``/``..`` segments,
        backslashes or control characters.
    """
    if not source.startswith(HF_PREFIX):
        raise _refuse(source, "does not start with 'hf://'")
    control = sorted({c for c in source if unicodedata.category(c).startswith("C")})
    if control:
        raise _refuse(source, f"holds control or invisible character(s) {control} (a trailing "
                              "newline, a tab...)")
    rest = source[len(HF_PREFIX):]
    if rest.startswith("/"):
        raise _refuse(source, "has an absolute path where the owner should be")
    parts = rest.split("/")
    if len(parts) < 3:
        raise _refuse(source, "lacks an owner, a repository or a file name")
    owner, repo_rev, file_parts = parts[0], parts[1], parts[2:]
    repo, _, revision = repo_rev.partition("@")
    if "@" in repo_rev and not revision:
        raise _refuse(source, "has an empty revision after '@'")
    for label, part in (("owner", owner), ("repository name", repo)):
        if not part:
            raise _refuse(source, f"has an empty {label}")
        if part in (".", "..") or ".." in part or "--" in part or not _REPO_PART.fullmatch(part):
            raise _refuse(source, f"has an invalid {label} {part!r} (letters, digits, '-', "
                                  "'_' and '.' only; no '..' or '--')")
    if revision and not re.fullmatch(r"[A-Za-z0-9._/-]{1,200}", revision):
        raise _refuse(source, f"has an invalid revision {revision!r}")
    if not file_parts or file_parts == [""]:
        raise _refuse(source, "has an empty file name")
    for part in file_parts:
        if part == "":
            raise _refuse(source, "has an empty path segment ('//' or a trailing '/')")
        if part in (".", ".."):
            raise _refuse(source, f"has a {part!r} path segment (the file must stay inside "
                                  "the repository)")
        if "\\" in part or not _FILE_PART.fullmatch(part):
            raise _refuse(source, f"has an invalid path segment {part!r}")
    return HubReference(f"{owner}/{repo}", "/".join(file_parts), revision or None)


def hub_cache_dir() -> Path | None:
    """Return the download cache: ``$EEGBENCH_WEIGHTS_DIR/hub``, else None (hub's default)."""
    root = os.environ.get(WEIGHTS_ENV)
    return Path(root).expanduser() / "hub" if root else None


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in ("1", "ON", "YES", "TRUE")


#: How a hub file is pinned: by its content (an expected sha256), by a full commit, or not.
PIN_KINDS = ("sha256", "revision", "none")


def pin_status(ref: HubReference, sha256: str | None) -> str:
    """Return how ``ref`` is pinned: ``"sha256"``, ``"revision"`` or ``"none"``.

    An expected sha256 pins the bytes whatever the revision (the default branch is fine: the
    file is verified byte for byte); a full 40-hex commit pins the repository state (the sha256
    of what it serves is then recorded); a branch or tag without a sha256 pins nothing.
    """
    if sha256:
        return "sha256"
    return "revision" if ref.pinned else "none"


def check_pinned(ref: HubReference, sha256: str | None, allow_unpinned: bool) -> str:
    """Return :func:`pin_status`; refuse an unpinned reference unless ``allow_unpinned``.

    Raises
    ------
    HubReferenceError
        If ``sha256`` is not a 64-hex digest, or the reference is pinned neither by content
        nor by a commit and ``allow_unpinned`` is False.
    """
    if sha256 is not None and not _SHA256.fullmatch(sha256.lower()):
        raise HubReferenceError(
            f"Invalid value for the 'checkpoint_sha256' parameter: expected 64 hexadecimal "
            f"digits, but got {sha256!r}.")
    status = pin_status(ref, sha256)
    if status != "none":
        return status
    if not allow_unpinned:
        raise HubReferenceError(
            f"{ref} is not pinned: revision {ref.revision or 'absent'!r} is not a 40-hex commit "
            f"and no sha256 is given. Pass model.params.checkpoint_sha256=<64 hex digits> (the "
            f"'SHA256' shown on the file's page on the Hub: the bytes are then verified), or "
            f"write hf://{ref.repo_id}@<40-hex commit>/{ref.filename}, or pass "
            f"model.params.allow_unpinned=true to accept whatever the branch holds today (rows "
            f"are then keyed by the commit and sha256 actually downloaded).")
    logger.warning("%s is not pinned (revision %s, no sha256): loading it anyway because "
                   "allow_unpinned is set; its rows are keyed by the commit and sha256 "
                   "downloaded, but another day may download other weights.", ref,
                   ref.revision or "main")
    return status


@dataclass(frozen=True)
class HubFile:
    """A hub file as downloaded: what was asked for and what was obtained.

    Attributes
    ----------
    ref : HubReference
        The reference as requested (revision may be a branch, or absent).
    commit : str
        The commit the revision resolved to (the snapshot the file was filed under).
    path : Path
        The local file in the hub cache.
    sha256 : str
        The sha256 of the local file's bytes.
    size : int
        Its size in bytes.
    pinned_by : str
        :func:`pin_status` of the request.
    """

    ref: HubReference
    commit: str
    path: Path
    sha256: str
    size: int
    pinned_by: str

    @property
    def pinned_reference(self) -> str:
        """``hf://owner/repo@<resolved commit>/file``."""
        return str(HubReference(self.ref.repo_id, self.ref.filename, self.commit))


#: Unpinned requests resolved in this process: ``(repo, file, revision) -> HubFile``. A job
#: resolves its unpinned references once, when its rows are keyed
#: (:func:`fetch` with ``refresh=True``); later loads in the job reuse that commit, so the
#: weights a row was keyed by are the weights it was computed with even if the branch moves.
_RESOLVED: dict[tuple[str, str, str], HubFile] = {}


def _hf_download(ref: HubReference, revision: str) -> Path:
    """Download (or find in the cache) ``ref`` at ``revision`` with huggingface_hub."""
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as err:  # pragma: no cover - a core dependency
        raise FileNotFoundError(
            f"Loading {ref} needs huggingface_hub: `pip install huggingface_hub`, or download "
            f"the file yourself and pass its path.") from err
    cache = hub_cache_dir()
    offline = _offline()
    try:
        return Path(hf_hub_download(
            ref.repo_id, ref.filename, revision=revision,
            cache_dir=str(cache) if cache else None, endpoint=os.environ.get("HF_ENDPOINT"),
            local_files_only=offline, token=False))
    except Exception as err:  # offline, unknown repo / revision / file, truncated, ...
        where = "the local cache" if offline else os.environ.get("HF_ENDPOINT",
                                                                 "https://huggingface.co")
        if offline:
            hint = (" HF_HUB_OFFLINE is set and the file is not in the cache: download it once "
                    "online, or pass a local file path.")
        elif "NotFound" in type(err).__name__:
            hint = (" The repository, revision or file does not exist there: check the "
                    "owner/repo, the commit and the path inside the repository.")
        else:
            hint = (" Offline? Download the file elsewhere and pass its local path, or set "
                    f"${WEIGHTS_ENV} to a folder holding a warm hub cache.")
        raise FileNotFoundError(f"Could not get {ref} from {where} "
                                f"({type(err).__name__}: {str(err).splitlines()[0][:300]}).{hint}"
                                ) from err


def _snapshot_commit(ref: HubReference, path: Path) -> str:
    """Return the commit of the snapshot folder huggingface_hub filed ``path`` under."""
    n = len(Path(ref.filename).parts)
    if len(path.parts) > n + 1 and path.parts[-n - 2] == "snapshots":
        return path.parts[-n - 1]
    raise FileNotFoundError(f"{ref} was downloaded to {path}, which is not inside a hub "
                            "snapshot folder (snapshots/<commit>/...): its commit is unknown.")


def record_path(file: HubFile) -> Path:
    """Return where the download record of ``file`` is kept in the hub cache.

    ``<cache>/models--owner--repo/eegbench/<commit>/<file>.json`` (beside huggingface_hub's
    ``snapshots``/``blobs`` folders).
    """
    n = len(Path(file.ref.filename).parts)
    repo_folder = file.path.parents[n + 1]  # <repo folder>/snapshots/<commit>/<file>
    return repo_folder / "eegbench" / file.commit / f"{file.ref.filename}.json"


def _record(file: HubFile) -> None:
    """Write the download record (commit, sha256, size) into the cache; skip if read-only."""
    target = record_path(file)
    payload = {"repo_id": file.ref.repo_id, "filename": file.ref.filename,
               "requested_revision": file.ref.revision, "commit": file.commit,
               "sha256": file.sha256, "size": file.size, "pinned_by": file.pinned_by}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=True))
        os.replace(tmp, target)
    except OSError as err:  # a read-only cache still serves its files
        logger.debug("could not record %s in the hub cache (%s)", file.ref, err)


def fetch(ref: HubReference, sha256: str | None = None, *, allow_unpinned: bool = False,
          refresh: bool = False) -> HubFile:
    """Download (or find in the cache) the file named by ``ref``, verify it, describe it.

    Parameters
    ----------
    ref : HubReference
        What to download.
    sha256 : str, optional
        Expected sha256 of the file: pins it by content (any revision, the default branch
        included).
    allow_unpinned : bool
        Accept a reference pinned neither by a sha256 nor by a full commit.
    refresh : bool
        For an unpinned reference, resolve its branch again instead of reusing the commit
        resolved earlier in this process (done once per job, when its rows are keyed).

    Returns
    -------
    HubFile
        The local file, the commit it came from and the sha256 of its bytes.

    Raises
    ------
    HubReferenceError
        If the reference is not pinned (and ``allow_unpinned`` is False).
    FileNotFoundError
        If the file cannot be obtained (offline without a cached copy, unknown repository,
        revision or file, interrupted transfer), if the server answers with another commit
        than the one requested, or if the bytes do not have the expected sha256.
    """
    pinned_by = check_pinned(ref, sha256, allow_unpinned)
    key = (ref.repo_id, ref.filename, ref.revision or "main")
    earlier = _RESOLVED.get(key) if pinned_by == "none" and not refresh else None
    path = _hf_download(ref, earlier.commit if earlier else (ref.revision or "main"))
    commit = _snapshot_commit(ref, path)
    wanted = earlier.commit if earlier else (ref.revision if ref.pinned else None)
    if wanted and commit != wanted:
        raise FileNotFoundError(
            f"Revision mismatch for {ref}: the server answered with commit {commit}, not "
            f"the pinned {wanted}. The file at {path} was not used.")
    actual = sha256_of(path)
    expected = sha256.lower() if sha256 else (earlier.sha256 if earlier else None)
    if expected and actual != expected:
        raise FileNotFoundError(
            f"Checkpoint {ref} (commit {commit}, downloaded to {path}) has sha256 {actual}, "
            f"but {expected} was expected: the file upstream changed, or the download is "
            f"corrupt, truncated or another release. The file was not used. Delete it and "
            f"retry, or check the expected value.")
    file = HubFile(ref, commit, path, actual, path.stat().st_size, pinned_by)
    if pinned_by == "none":
        _RESOLVED[key] = file
    _record(file)
    logger.info("checkpoint %s -> %s (commit %s, sha256 %s, pinned by %s)", ref, path, commit,
                actual, pinned_by)
    return file


def download(ref: HubReference, sha256: str | None = None, *,
             allow_unpinned: bool = False) -> Path:
    """Return the local path of :func:`fetch` (same parameters and errors)."""
    return fetch(ref, sha256, allow_unpinned=allow_unpinned).path


def cached_file(ref: HubReference) -> Path | None:
    """Return the cached copy of ``ref`` (its revision, else ``main``) or None; no request."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - a core dependency
        return None
    cache = hub_cache_dir()
    found = try_to_load_from_cache(ref.repo_id, ref.filename,
                                   cache_dir=str(cache) if cache else None,
                                   revision=ref.revision or "main")
    return Path(found) if isinstance(found, str) else None
