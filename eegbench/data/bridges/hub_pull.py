"""Pull a pinned revision of a Hugging Face dataset repository, verified file by file.

:func:`pull_snapshot` is the network half of the hub bridge (:mod:`eegbench.data.bridges.hub`):

- the revision must be a full 40-hex commit: a branch, a tag or no revision at all is refused
  before any request (a dataset that moves upstream would silently change a result);
- the server is asked what the commit resolves to (``HfApi.dataset_info``): an answer naming
  another commit is an error naming both;
- the files are fetched with :func:`huggingface_hub.snapshot_download` (``repo_type="dataset"``,
  the call braindecode's ``BaseConcatDataset.pull_from_hub`` makes), which honours
  ``HF_ENDPOINT``, ``HF_HUB_CACHE`` / ``HF_HOME`` and ``HF_HUB_OFFLINE``; a transfer that ends
  early is refused by huggingface_hub (announced size), a file whose bytes differ from the
  listing's sha256 (LFS files) or git blob id (other files) is refused here;
- the sha256 of every pulled file is returned (:class:`Snapshot`), and recorded beside the
  snapshot (``<repo folder>/eegbench/<commit>.json``) so a later job with a warm cache does not
  hash the files again unless their sizes changed.

A local folder (a path instead of a repository id: it starts with ``/``, ``./``, ``../`` or
``~``) is read in place: no revision, the sha256 of each of its files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eegbench.data.errors import RecipeError
from eegbench.hashing import sha256_of

logger = logging.getLogger(__name__)

_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_REPO_ID = re.compile(rf"^{_REPO_PART}/{_REPO_PART}$")
_LOCAL_PREFIXES = ("/", "./", "../", "~")


class HubPullError(RecipeError):
    """A hub dataset could not be pulled, or what was pulled is not what was pinned."""


@dataclass(frozen=True)
class Snapshot:
    """The files of one pulled revision (or of a local folder).

    Attributes
    ----------
    folder : Path
        Where the files are.
    repo_id : str
        ``owner/name``, or the folder for a local dataset.
    commit : str or None
        The pinned commit the files came from (None for a local folder).
    files : dict
        Relative path -> sha256 of every file.
    """

    folder: Path
    repo_id: str
    commit: str | None
    files: dict[str, str] = field(default_factory=dict)

    @property
    def content_sha256(self) -> str:
        """sha256 of the sorted (path, sha256) list: one digest of everything pulled."""
        return hashlib.sha256(json.dumps(sorted(self.files.items())).encode()).hexdigest()


def hub_cache_dir() -> Path:
    """huggingface_hub's cache folder, read from the environment when called.

    ``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else ``~/.cache/huggingface/hub`` (huggingface_hub
    itself reads these once, when it is imported).
    """
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", "~/.cache"),
                                             "huggingface")
    return Path(home).expanduser() / "hub"


def is_local(source: str) -> bool:
    """True when ``source`` names a local folder rather than a repository id."""
    return str(source).startswith(_LOCAL_PREFIXES)


def check_reference(repo_id: Any, revision: Any) -> None:
    """Refuse a malformed repository id or a revision that is not a full commit.

    Raises
    ------
    HubPullError
        Naming the parameter, what is allowed and what was given.
    """
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id) or "--" in repo_id \
            or ".." in repo_id:
        raise HubPullError(f"Invalid value for the 'dataset.hub.repo_id' parameter. Allowed values"
                           f" are Hugging Face repository ids 'owner/name' or a local folder "
                           f"(starting with /, ./, ../ or ~), but got {repo_id!r}.")
    if revision is None or not isinstance(revision, str) or not _COMMIT.match(revision):
        given = "none" if revision is None else repr(revision)
        raise HubPullError(
            f"Invalid value for the 'dataset.hub.revision' parameter of {repo_id}: a hub dataset "
            f"must be pinned to a full 40-hex commit (a branch or tag can move, and so would "
            f"the result), but got {given}. Find the commit on the repository's 'Files and "
            f"versions' page, or with `huggingface_hub.HfApi().dataset_info({repo_id!r}).sha`.")


def _git_blob_id(path: Path) -> str:
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)  # noqa: S324 - git's object id
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _record_path(folder: Path, commit: str) -> Path:
    # <cache>/datasets--owner--name/snapshots/<commit> -> <cache>/datasets--owner--name/eegbench
    return folder.parent.parent / "eegbench" / f"{commit}.json"


def _read_record(folder: Path, commit: str, listing: dict[str, Any] | None
                 ) -> dict[str, str] | None:
    """The recorded sha256 of each file, if the record matches the files' sizes (and listing)."""
    try:
        record = json.loads(_record_path(folder, commit).read_text())
        files, sizes = record["files"], record["sizes"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if listing is not None and sorted(listing) != sorted(files):
        return None
    for name, size in sizes.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size != int(size):
            return None
    return dict(files)


def _write_record(folder: Path, commit: str, files: dict[str, str]) -> None:
    target = _record_path(folder, commit)
    payload = {"commit": commit, "files": files,
               "sizes": {n: (folder / n).stat().st_size for n in files}}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload, indent=1, sort_keys=True))
        os.replace(tmp, target)
    except OSError as err:  # a read-only cache still serves its files
        logger.debug("could not record %s in the hub cache (%s)", target, err)


def _verify(folder: Path, repo_id: str, commit: str, listing: dict[str, Any]) -> dict[str, str]:
    """sha256 of every listed file, each checked against the listing (sha256 or git blob id)."""
    files: dict[str, str] = {}
    for name, entry in sorted(listing.items()):
        path = folder / name
        if not path.is_file():
            raise HubPullError(
                f"{repo_id}@{commit}: file {name!r} of the repository listing is missing from "
                f"the pulled snapshot {folder} (the server filed it under another commit, or the "
                "transfer stopped).")
        sha = sha256_of(path)
        if entry.get("size") is not None and path.stat().st_size != int(entry["size"]):
            raise HubPullError(f"{repo_id}@{commit}: {name} has {path.stat().st_size} bytes but "
                               f"the repository lists {entry['size']} (truncated transfer).")
        if entry.get("lfs_sha256"):
            if sha != entry["lfs_sha256"]:
                raise HubPullError(f"{repo_id}@{commit}: {name} has sha256 {sha} but the "
                                   f"repository lists {entry['lfs_sha256']} (corrupt transfer).")
        elif entry.get("blob_id") and _git_blob_id(path) != entry["blob_id"]:
            raise HubPullError(f"{repo_id}@{commit}: {name} does not match its git blob id "
                               f"{entry['blob_id']} (corrupt transfer).")
        files[name] = sha
    return files


def _describe(err: Exception, repo_id: str, commit: str) -> HubPullError:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    first = (str(err).splitlines() or [""])[0][:300]
    if os.environ.get("HF_HUB_OFFLINE"):
        endpoint = "the local cache"
        hint = (" HF_HUB_OFFLINE is set and the snapshot is not in the cache: pull it once "
                "online, or point dataset.hub.repo_id at a local copy of the folder.")
    elif "NotFound" in type(err).__name__:
        hint = (" The repository or the commit does not exist there: check dataset.hub.repo_id "
                "and dataset.hub.revision.")
    else:
        hint = (" Offline or interrupted? Pull the dataset where the Hub can be reached "
                "(huggingface_hub.snapshot_download(repo_id, repo_type='dataset', revision=...)) "
                "and point HF_HUB_CACHE at that cache, or dataset.hub.repo_id at the folder.")
    return HubPullError(f"Could not pull hub dataset {repo_id}@{commit} from {endpoint} "
                        f"({type(err).__name__}: {first}).{hint}")


def _pull_remote(repo_id: str, commit: str, cache_dir: Path) -> Snapshot:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.hf_api import RepoFile

    offline = bool(os.environ.get("HF_HUB_OFFLINE"))
    endpoint = os.environ.get("HF_ENDPOINT")
    listing: dict[str, Any] | None = None
    if not offline:
        api = HfApi(endpoint=endpoint, token=False)
        try:
            answered = api.dataset_info(repo_id, revision=commit).sha
            if answered != commit:
                raise HubPullError(
                    f"Revision mismatch for hub dataset {repo_id}: the pinned commit is {commit}"
                    f" but the server resolves it to {answered}. Refusing the pull (pin the "
                    "commit the dataset is published at, or check HF_ENDPOINT).")
            listing = {f.path: {"size": f.size, "blob_id": f.blob_id,
                                "lfs_sha256": f.lfs.sha256 if f.lfs is not None else None}
                       for f in api.list_repo_tree(repo_id, recursive=True, revision=commit,
                                                   repo_type="dataset")
                       if isinstance(f, RepoFile)}
        except HubPullError:
            raise
        except Exception as err:  # unknown repository / commit, server down, ...
            raise _describe(err, repo_id, commit) from err
    try:
        folder = Path(snapshot_download(repo_id, repo_type="dataset", revision=commit,
                                        cache_dir=str(cache_dir),
                                        endpoint=endpoint, token=False,
                                        local_files_only=offline))
    except Exception as err:  # truncated transfer, offline without a cached copy, ...
        raise _describe(err, repo_id, commit) from err
    if folder.name != commit:
        raise HubPullError(f"Revision mismatch for hub dataset {repo_id}: the snapshot was filed"
                           f" under {folder.name}, not under the pinned commit {commit}.")
    files = _read_record(folder, commit, listing)
    if files is None:
        if listing is None:  # offline, no record: every file of the cached snapshot
            listing = {p.relative_to(folder).as_posix(): {}
                       for p in sorted(folder.rglob("*")) if p.is_file()}
        files = _verify(folder, repo_id, commit, listing)
        _write_record(folder, commit, files)
    logger.info("hub dataset %s@%s: %d files in %s", repo_id, commit[:12], len(files), folder)
    return Snapshot(folder=folder, repo_id=repo_id, commit=commit, files=files)


def _local(source: str) -> Snapshot:
    folder = Path(source).expanduser().resolve()
    if not folder.is_dir():
        raise HubPullError(f"Invalid value for the 'dataset.hub.repo_id' parameter: the local "
                           f"folder {folder} does not exist.")
    files = {p.relative_to(folder).as_posix(): sha256_of(p)
             for p in sorted(folder.rglob("*")) if p.is_file()}
    if not files:
        raise HubPullError(f"The local hub dataset folder {folder} holds no file.")
    return Snapshot(folder=folder, repo_id=str(folder), commit=None, files=files)


def pull_snapshot(repo_id: str, revision: str | None, cache_dir: str | Path | None = None
                  ) -> Snapshot:
    """Pull (or find in the cache) the pinned revision of a dataset repository.

    Parameters
    ----------
    repo_id : str
        ``owner/name`` on the Hub (``HF_ENDPOINT``), or a local folder.
    revision : str
        The 40-hex commit (required for a repository; ignored for a local folder).
    cache_dir : str or Path, optional
        huggingface_hub cache folder (default: :func:`hub_cache_dir`).

    Returns
    -------
    Snapshot
        The folder, the commit and the sha256 of every file.

    Raises
    ------
    HubPullError
        Unpinned revision, revision mismatch, unknown repository or commit, truncated or
        corrupt transfer, offline without a cached copy.
    """
    if is_local(repo_id):
        return _local(repo_id)
    check_reference(repo_id, revision)
    return _pull_remote(repo_id, str(revision), Path(cache_dir) if cache_dir else hub_cache_dir())
