"""File hashing shared by recipes, the cache and checkpoints."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


#: Prefix of a file's content key (:func:`file_digests`): a second digest of the same bytes
#: that cannot be derived from the file's published sha256.
CONTENT_KEY_PREFIX = b"eegbench content key v1\x00"


def file_digests(path: str | Path, chunk: int = 1 << 20) -> tuple[str, str]:
    """Return a file's sha256 and its content key, reading the file once.

    The content key is the sha256 of :data:`CONTENT_KEY_PREFIX` followed by the file's bytes:
    whoever has the file can compute it, but not from its sha256 alone (e.g. from a recipe's
    pins), so it can key what was derived from the file (a cache manifest).
    """
    plain = hashlib.sha256()
    keyed = hashlib.sha256(CONTENT_KEY_PREFIX)
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            plain.update(block)
            keyed.update(block)
    return plain.hexdigest(), keyed.hexdigest()
