"""The registry of known pretrained checkpoints (data in ``known_checkpoints.yaml``).

Each entry names a published file (Hugging Face repository, revision, file name, sha256) with its
model, key layout, parameter count, licence and paper. ``model.params.checkpoint=known:<name>``
resolves an entry through :func:`eegbench.models.pretrained.resolve_checkpoint`; an entry whose
revision or sha256 is unknown is refused unless ``allow_unpinned`` is set.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from eegbench.models.hub import HubReference, HubReferenceError, check_pinned

REGISTRY_FILE = Path(__file__).with_name("known_checkpoints.yaml")


@dataclass(frozen=True)
class KnownCheckpoint:
    """One published checkpoint file."""

    name: str
    model: str
    repo_id: str
    filename: str | None
    revision: str | None
    sha256: str | None
    key_layout: str
    n_parameters: int | None
    licence: str | None
    paper: str
    source: str
    note: str = ""
    commit_short: str | None = None
    size: str | None = None

    @property
    def pinned(self) -> bool:
        """True when the entry has a full commit and a sha256."""
        return bool(self.filename and self.sha256 and HubReference(
            self.repo_id, self.filename, self.revision).pinned)

    def reference(self, allow_unpinned: bool = False) -> str:
        """Return the ``hf://`` reference of this entry.

        Raises
        ------
        HubReferenceError
            If the entry has no file name, or is not pinned and ``allow_unpinned`` is False.
        """
        if not self.filename:
            raise HubReferenceError(
                f"The known checkpoint {self.name!r} ({self.repo_id}) has no verified file name "
                f"in {REGISTRY_FILE.name} ({self.note}). Download the file yourself and pass "
                f"its path, or add the file name, commit and sha256 to the registry.")
        ref = HubReference(self.repo_id, self.filename, self.revision)
        try:
            check_pinned(ref, self.sha256, allow_unpinned)
        except HubReferenceError as err:
            raise HubReferenceError(
                f"The known checkpoint {self.name!r} is not pinned in {REGISTRY_FILE.name} "
                f"(revision {self.revision!r}, sha256 {self.sha256!r}; {self.note}). Pass "
                f"model.params.allow_unpinned=true to download it from 'main' anyway (its "
                f"sha256 is still checked when known). [{err}]") from None
        return str(ref)


_FIELDS = {f.name for f in fields(KnownCheckpoint)}


@functools.cache
def known_checkpoints() -> dict[str, KnownCheckpoint]:
    """Return every registry entry by name (read once from ``known_checkpoints.yaml``).

    Raises
    ------
    ValueError
        If an entry has unknown or missing keys (the message names the entry and key).
    """
    raw: dict[str, Any] = yaml.safe_load(REGISTRY_FILE.read_text()) or {}
    out = {}
    for name, entry in raw.items():
        unknown = sorted(set(entry) - _FIELDS)
        if unknown:
            raise ValueError(f"{REGISTRY_FILE}: entry {name!r} has unknown keys {unknown}; "
                             f"allowed keys are {sorted(_FIELDS - {'name'})}.")
        try:
            out[name] = KnownCheckpoint(name=name, **entry)
        except TypeError as err:
            raise ValueError(f"{REGISTRY_FILE}: entry {name!r} is incomplete ({err}).") from None
    return out


def get_known_checkpoint(name: str) -> KnownCheckpoint:
    """Return the entry ``name`` (MNE-style error with close matches when unknown)."""
    entries = known_checkpoints()
    if name not in entries:
        close = difflib.get_close_matches(name, list(entries), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise HubReferenceError(
            f"Invalid value for the 'checkpoint' parameter. Allowed known checkpoints are "
            f"{sorted(entries)}, but got {name!r}.{hint}")
    return entries[name]
