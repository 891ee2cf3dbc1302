"""Download a dataset's missing files from its recipe's ``source.base_url``.

Every file a recipe pins (``source.sha256``: recordings and companions) can be fetched; a file
without a pinned checksum cannot be verified and is never downloaded. Each download:

- goes to ``<file>.part`` next to its destination and **resumes** an interrupted transfer with
  an HTTP ``Range`` request (a server that ignores it restarts the file from scratch);
- is **retried** with exponential back-off on connection errors, truncated transfers, HTTP
  5xx/429 and checksum mismatches (``retries`` times); HTTP 404 and other 4xx are not retried;
- is **verified** against the pinned sha256 before it is **moved into place atomically**
  (``os.replace``): a file at its final path is always complete and verified;
- is **bounded**: a transfer that grows past the file's size limit (``source.max_file_bytes``
  of the recipe, else :data:`DEFAULT_MAX_FILE_BYTES`; or a ``Content-Length`` announcing more)
  is stopped and refused, not retried (an endless response never fills the disk), and the
  download of one file, retries included, ends after ``deadline_s`` seconds (a server trickling
  one byte at a time never hangs it);
- shows a tqdm progress bar on a terminal.

A ``file://`` address (a local mirror, e.g. ``--base-url file:///mnt/mirror/eegmat/``) is
copied with the same verification and atomic placement; a missing local file is an error at
once (nothing to retry).

The URL of a file is ``base_url`` + its path below the dataset folder, unless the recipe maps
the file to another address in ``source.urls`` (a file that moved upstream). A mirror given
with ``base_url=`` replaces both: it must hold the dataset folder's layout.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlparse
from urllib.request import url2pathname

import requests
import urllib3
from tqdm import tqdm

from eegbench.data.recipe import Recipe, RecipeError, select_subjects, sha256_of
from eegbench.data.templates import fill_template

logger = logging.getLogger(__name__)

#: Bytes read per chunk while streaming a download.
CHUNK_BYTES = 1 << 16

#: Largest file a download may grow to unless the recipe declares ``source.max_file_bytes``:
#: 2 GiB, the size at which MNE (and MEGIN's acquisition software) splits a raw FIF file.
DEFAULT_MAX_FILE_BYTES = 2 * 1024 ** 3

#: Seconds one file's download may take, all attempts together (a 2 GiB file at 1 MB/s).
DEFAULT_DEADLINE_S = 3600.0


class FetchError(RuntimeError):
    """A file could not be downloaded and verified (nothing was placed at its path)."""


@dataclass(frozen=True)
class FetchItem:
    """One file to download: where from, where to, and its pinned checksum."""

    relpath: str
    url: str
    dest: Path
    sha256: str
    max_bytes: int = DEFAULT_MAX_FILE_BYTES


def plan_fetch(recipe: Recipe, data_root: Path, base_url: str | None = None,
               subjects: list[str] | None = None) -> list[FetchItem]:
    """List the recipe's pinned files that are missing under ``data_root``.

    Parameters
    ----------
    recipe : Recipe
        The dataset recipe (its ``source.sha256`` lists the files).
    data_root : Path
        Root folder holding the dataset folder.
    base_url : str, optional
        A mirror of the dataset folder, replacing ``source.base_url`` and ``source.urls``.
    subjects : list of str, optional
        Only the recordings of these subjects (and their companions).

    Raises
    ------
    RecipeError
        If the recipe pins no file, has no ``base_url``, or a requested subject is unknown.
    """
    pinned = {str(k): str(v) for k, v in (recipe.source.get("sha256") or {}).items()}
    if not pinned:
        raise RecipeError(f"Recipe '{recipe.name}' pins no file (source.sha256), so there is "
                          "nothing it can download and verify.")
    root = base_url or recipe.source.get("base_url")
    if not root:
        raise RecipeError(f"Recipe '{recipe.name}' has no source.base_url; pass a mirror "
                          "with --base-url.")
    root = root if root.endswith("/") else root + "/"
    urls = {} if base_url else {str(k): str(v) for k, v in
                                (recipe.source.get("urls") or {}).items()}
    pattern = re.compile(recipe.source["pattern"])
    excluded = [re.compile(str(r["files"])) for r in recipe.raw.get("exclude") or []]
    defaults = {k: str(v) for k, v in (recipe.source.get("defaults") or {}).items()}
    recordings = []
    for rel in sorted(pinned):
        match = pattern.fullmatch(rel)
        if match is None or any(rx.fullmatch(rel) for rx in excluded) \
                or not recipe.in_task(rel):
            continue
        groups = {**defaults, **{k: v for k, v in match.groupdict().items() if v is not None}}
        recordings.append(_Pinned(rel, groups))
    if subjects is not None:
        recordings = select_subjects(recipe, recordings, subjects)  # type: ignore[arg-type]
    wanted = []
    for rec in recordings:
        wanted.append(rec.relpath)
        for template in (recipe.source.get("companions") or {}).values():
            rel = fill_template(template, rec.groups)
            if rel not in pinned:
                raise RecipeError(f"Recipe '{recipe.name}': companion {rel} of {rec.relpath} "
                                  "has no pinned sha256 (source.sha256); it cannot be verified.")
            wanted.append(rel)
    folder = Path(data_root) / recipe.source["folder"]
    max_bytes = int(recipe.source.get("max_file_bytes") or DEFAULT_MAX_FILE_BYTES)
    items = []
    for rel in dict.fromkeys(wanted):
        dest = folder / rel
        if dest.is_file():
            continue
        url = urls.get(rel) or root + quote(rel)
        items.append(FetchItem(rel, url, dest, pinned[rel], max_bytes))
    return items


@dataclass(frozen=True)
class _Pinned:
    """A pinned recording path with its pattern groups (quacks like a SourceFile)."""

    relpath: str
    groups: dict[str, str]

    @property
    def subject(self) -> str:
        return self.groups["subject"]


class _Retry(Exception):
    """A transient failure: try again after a back-off."""


class _Refused(Exception):
    """The server sends more than the file may hold: stop, do not retry."""


def download(item: FetchItem, *, retries: int = 4, backoff_s: float = 1.0,
             timeout_s: float = 60.0, deadline_s: float = DEFAULT_DEADLINE_S,
             session: requests.Session | None = None) -> Path:
    """Download ``item`` with resume, retries, sha256 verification and atomic placement.

    Parameters
    ----------
    item : FetchItem
        What to download and where (``item.max_bytes`` bounds the file).
    retries : int
        How many times a transient failure is retried (so ``retries + 1`` attempts).
    backoff_s : float
        Wait before the first retry; doubled at each further retry.
    timeout_s : float
        Connect/read timeout of each request (one silent socket read).
    deadline_s : float
        Seconds the whole download may take, all attempts together.
    session : requests.Session, optional
        Reused connection pool.

    Returns
    -------
    Path
        The verified file at its final path.

    Raises
    ------
    FetchError
        Naming the URL, the file and the last problem; nothing is placed at the final path.
    """
    part = item.dest.with_name(item.dest.name + ".part")
    item.dest.parent.mkdir(parents=True, exist_ok=True)
    if item.url.startswith("file://"):
        return _copy_local(item, part)
    session = session or requests.Session()
    deadline = time.monotonic() + float(deadline_s)
    problem = ""
    for attempt in range(retries + 1):
        if attempt:
            wait = backoff_s * 2 ** (attempt - 1)
            if time.monotonic() + wait >= deadline:
                break
            logger.warning("%s: %s; retry %d/%d in %.1f s", item.relpath, problem, attempt,
                           retries, wait)
            time.sleep(wait)
        try:
            _transfer(item, part, session, timeout_s, deadline)
        except _Retry as err:
            problem = str(err)
            continue
        except _Refused as err:
            part.unlink(missing_ok=True)
            raise FetchError(f"Could not download {item.url} to {item.dest}: {err}. Nothing "
                             f"was placed at {item.dest}.") from None
        except requests.RequestException as err:
            problem = f"{type(err).__name__} (connection lost or timed out)"
            continue
        digest = sha256_of(part)
        if digest != item.sha256:
            part.unlink()
            problem = (f"sha256 mismatch: expected {item.sha256}, got {digest} (wrong or "
                       "corrupted bytes; discarded)")
            continue
        os.replace(part, item.dest)
        return item.dest
    if time.monotonic() >= deadline or "deadline" in problem:
        raise FetchError(f"Could not download {item.url} to {item.dest} within the deadline of "
                         f"{deadline_s:g} s ({attempt + 1} attempt(s); last problem: "
                         f"{problem}). The partial download {part} is kept for a later "
                         "resume; nothing was placed at the final path.")
    raise FetchError(f"Could not download {item.url} to {item.dest} after {retries + 1} "
                     f"attempt(s): {problem}. Nothing was placed at {item.dest}.")


def _copy_local(item: FetchItem, part: Path) -> Path:
    """``file://`` mirror: copy, verify and place the file (no retry: nothing is transient)."""
    source = Path(url2pathname(urlparse(item.url).path))
    if not source.is_file():
        raise FetchError(f"Could not copy {item.url} to {item.dest}: {source} does not exist "
                         "(a file:// address names a local file; check the mirror's path). "
                         f"Nothing was placed at {item.dest}.")
    size = source.stat().st_size
    if size > item.max_bytes:
        raise FetchError(f"Could not copy {item.url}: it holds {size} bytes, more than the "
                         f"file size limit {item.max_bytes} (source.max_file_bytes). Nothing "
                         f"was placed at {item.dest}.")
    shutil.copyfile(source, part)
    digest = sha256_of(part)
    if digest != item.sha256:
        part.unlink()
        raise FetchError(f"Could not copy {item.url} to {item.dest}: sha256 mismatch: expected "
                         f"{item.sha256}, got {digest} (the mirror holds another file). Nothing "
                         f"was placed at {item.dest}.")
    os.replace(part, item.dest)
    return item.dest


def _transfer(item: FetchItem, part: Path, session: requests.Session, timeout_s: float,
              deadline: float) -> None:
    """One attempt: resume ``part`` from its size, or start over."""
    have = part.stat().st_size if part.is_file() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with session.get(item.url, headers=headers, stream=True, timeout=timeout_s) as resp:
        if resp.status_code == 416:  # the partial file is not a prefix of the remote one
            part.unlink(missing_ok=True)
            raise _Retry("the server refused to resume (HTTP 416); starting over")
        if resp.status_code in (429,) or resp.status_code >= 500:
            raise _Retry(f"HTTP {resp.status_code} {resp.reason}")
        if resp.status_code >= 400:
            raise FetchError(f"Could not download {item.url}: HTTP {resp.status_code} "
                             f"{resp.reason}. Check the recipe's source.base_url (or the "
                             f"mirror) and the file {item.relpath}.")
        if resp.status_code == 206 and _range_start(resp) == have:
            mode = "ab"
        else:  # 200 (range ignored), or a range we did not ask for: start over
            mode, have = "wb", 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        if total is not None and total > item.max_bytes:
            raise _Refused(f"the server announces {total} bytes, more than the file size "
                           f"limit {item.max_bytes} (source.max_file_bytes)")
        limit = min(total, item.max_bytes) if total is not None else item.max_bytes
        written = have
        with open(part, mode) as fh, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                          desc=item.relpath, disable=None, leave=False) as bar:
            while True:
                # read1: returns what one socket read brings, so the deadline is checked
                # between reads even when the server trickles bytes
                try:
                    chunk = resp.raw.read1(CHUNK_BYTES, decode_content=True)
                except urllib3.exceptions.HTTPError as err:  # as iter_content would wrap it
                    raise requests.ConnectionError(f"{type(err).__name__}: {err}") from err
                if not chunk:
                    break
                written += len(chunk)
                if written > limit:
                    what = (f"more than the {total} bytes it announced" if limit == total
                            else f"more than the file size limit {item.max_bytes} "
                                 "(source.max_file_bytes)")
                    raise _Refused(f"the server sent {what}")
                fh.write(chunk)
                bar.update(len(chunk))
                if time.monotonic() > deadline:
                    raise _Retry(f"deadline reached after {written} bytes")
    size = part.stat().st_size
    if total is not None and size < total:
        raise _Retry(f"transfer truncated at {size} of {total} bytes; resuming")


def _range_start(resp: requests.Response) -> int | None:
    match = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def fetch_dataset(recipe: Recipe, data_root: Path, *, base_url: str | None = None,
                  subjects: list[str] | None = None, retries: int = 4,
                  backoff_s: float = 1.0, deadline_s: float = DEFAULT_DEADLINE_S
                  ) -> list[Path]:
    """Download every missing pinned file of ``recipe`` into ``data_root``.

    Returns
    -------
    list of Path
        The files downloaded (already present files are left as they are; they are verified
        against their pins whenever the dataset is loaded).

    Raises
    ------
    FetchError
        Listing every file that could not be downloaded (the others are in place).
    """
    items = plan_fetch(recipe, Path(data_root), base_url, subjects)
    logger.info("Dataset '%s': %d file(s) to download into %s", recipe.name, len(items),
                Path(data_root) / recipe.source["folder"])
    done, failed = [], []
    with requests.Session() as session:
        for item in tqdm(items, desc=recipe.name, unit="file", disable=None):
            try:
                done.append(download(item, retries=retries, backoff_s=backoff_s,
                                     deadline_s=deadline_s,
                                     session=session))
            except FetchError as err:
                failed.append(str(err))
    if failed:
        raise FetchError(f"Dataset '{recipe.name}': {len(failed)} of {len(items)} file(s) "
                         "failed:\n" + "\n".join(f"  - {f}" for f in failed))
    return done
