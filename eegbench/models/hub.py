"""Pinned Hugging Face Hub checkpoints: ``hf://owner/repo@revision/path/to/file``.

A hub reference names a repository, a revision and a file::

    hf://braindecode/labram-pretrained@<40-hex commit>/model.safetensors

The revision must be a full commit hash and the caller must give the file's sha256, so that a
result can always be traced to the exact bytes that produced it; a branch or tag name (or no
revision, meaning ``main``) and a missing sha256 are refused unless ``allow_unpinned=True`` is
passed explicitly. Paths that could leave the repository (``..``, absolute paths, empty
segments, backslashes) and malformed repository ids are refused before any network access.

Downloads go through :func:`huggingface_hub.hf_hub_download` into
``$EEGBENCH_WEIGHTS_DIR/hub`` when that variable is set, else into huggingface_hub's own cache
(``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or ``~/.cache/huggingface/hub``). The endpoint
(``$HF_ENDPOINT``), the cache and offline mode (``$HF_HUB_OFFLINE=1``: only the local cache is
used) are read when a file is requested, not when the package is imported.
"""

from __future__ import annotations

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


def check_pinned(ref: HubReference, sha256: str | None, allow_unpinned: bool) -> None:
    """Refuse an unpinned reference (no commit, or no sha256) unless ``allow_unpinned``.

    Raises
    ------
    HubReferenceError
        If the revision is not a 40-hex commit or ``sha256`` is not a 64-hex digest and
        ``allow_unpinned`` is False.
    """
    if sha256 is not None and not _SHA256.fullmatch(sha256.lower()):
        raise HubReferenceError(
            f"Invalid value for the 'checkpoint_sha256' parameter: expected 64 hexadecimal "
            f"digits, but got {sha256!r}.")
    if allow_unpinned:
        if not ref.pinned or not sha256:
            logger.warning("%s is not pinned (revision %s, sha256 %s): loading it anyway "
                           "because allow_unpinned is set; results are not reproducible.",
                           ref, ref.revision or "main", sha256 or "none")
        return
    if not ref.pinned:
        raise HubReferenceError(
            f"{ref} is not pinned to a commit (revision {ref.revision or 'absent'!r}). Write "
            f"hf://{ref.repo_id}@<40-hex commit>/{ref.filename} (the commit is shown on the "
            f"file's page on the Hub), or pass model.params.allow_unpinned=true to accept "
            f"whatever the branch holds today.")
    if not sha256:
        raise HubReferenceError(
            f"{ref} has no expected sha256. Pass model.params.checkpoint_sha256=<64 hex "
            f"digits> (the 'SHA256' shown on the file's page on the Hub), or "
            f"model.params.allow_unpinned=true.")


def download(ref: HubReference, sha256: str | None = None, *,
             allow_unpinned: bool = False) -> Path:
    """Download (or find in the cache) the file named by ``ref`` and verify it.

    Parameters
    ----------
    ref : HubReference
        What to download.
    sha256 : str, optional
        Expected sha256 of the file (required unless ``allow_unpinned``).
    allow_unpinned : bool
        Accept a branch/tag revision and a missing sha256.

    Returns
    -------
    Path
        The local file (inside the hub cache).

    Raises
    ------
    HubReferenceError
        If the reference is not pinned (and ``allow_unpinned`` is False).
    FileNotFoundError
        If the file cannot be obtained (offline without a cached copy, unknown repository,
        revision or file, interrupted transfer), if the server answers with another commit
        than the one requested, or if the bytes do not have the expected sha256.
    """
    check_pinned(ref, sha256, allow_unpinned)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as err:  # pragma: no cover - a core dependency
        raise FileNotFoundError(
            f"Loading {ref} needs huggingface_hub: `pip install huggingface_hub`, or download "
            f"the file yourself and pass its path.") from err
    cache = hub_cache_dir()
    offline = _offline()
    try:
        local = hf_hub_download(
            ref.repo_id, ref.filename, revision=ref.revision or "main",
            cache_dir=str(cache) if cache else None, endpoint=os.environ.get("HF_ENDPOINT"),
            local_files_only=offline, token=False)
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
    path = Path(local)
    if ref.pinned:
        # huggingface_hub files a download under snapshots/<the commit the server answered>.
        snapshot = Path(*Path(ref.filename).parts)
        expected_tail = Path("snapshots") / ref.revision / snapshot
        if not str(path).endswith(str(expected_tail)):
            served = path.parts[-len(snapshot.parts) - 1] if len(path.parts) > len(
                snapshot.parts) else "?"
            raise FileNotFoundError(
                f"Revision mismatch for {ref}: the server answered with commit {served}, not "
                f"the pinned {ref.revision}. The file at {path} was not used.")
    if sha256:
        actual = sha256_of(path)
        if actual != sha256.lower():
            raise FileNotFoundError(
                f"Checkpoint {ref} (downloaded to {path}) has sha256 {actual}, but {sha256} "
                f"was expected: the file is corrupt, truncated or another release. Delete it "
                f"and retry, or check the expected value.")
    logger.info("checkpoint %s -> %s", ref, path)
    return path
