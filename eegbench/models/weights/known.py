"""The registry of known pretrained checkpoints (data in ``known_checkpoints.yaml``).

Each entry names a published file (Hugging Face repository, revision, file name, sha256) with its
model, key layout, parameter count, licence, paper, the input contract it was trained with and
the public source of every value. ``model.params.checkpoint=known:<name>`` resolves an entry
through :func:`eegbench.models.weights.loading.resolve_weights`:

- an entry with a sha256 is **content-pinned**: it loads from its pinned revision, or from the
  repository's default branch when no commit is recorded, and the bytes are verified (no
  ``allow_unpinned``, no warning);
- an entry with a full commit and no sha256 is pinned by revision (the sha256 of what it
  serves is recorded in the row);
- an entry with neither needs ``allow_unpinned=true``; its rows are keyed by the commit and
  sha256 actually downloaded.

When a checkpoint of the registry is loaded (``known:<name>``, or the same repository file, or
a file with the entry's sha256), the entry's ``contract`` (sampling rate, patch length, units
and scaling it was trained with) replaces the model's defaults
(:meth:`KnownCheckpoint.contract_overrides`).
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from eegbench.models.weights.hub import (
    HF_PREFIX,
    HubReference,
    HubReferenceError,
    cached_file,
    check_pinned,
    parse_hub_reference,
    pin_status,
)

REGISTRY_FILE = Path(__file__).with_name("known_checkpoints.yaml")
KNOWN_PREFIX = "known:"

#: Input-contract keys an entry may set (:class:`eegbench.models.input_contract.InputContract`).
CONTRACT_KEYS = ("sfreq", "patch_size", "max_times", "units", "scale", "normalize")


@dataclass(frozen=True)
class KnownCheckpoint:
    """One published checkpoint file.

    ``contract`` holds the input contract the checkpoint was trained with (keys
    :data:`CONTRACT_KEYS`), ``preprocessing`` the pretraining preprocessing in words, and
    ``sources`` the public source of each value (``{field: "repo@commit path" or URL}``).
    ``share_adapters`` is False when the weights' licence forbids sharing anything derived
    from them (fine-tuned weights, adapters, heads trained on top).
    """

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
    size_bytes: int | None = None
    licence_note: str = ""
    share_adapters: bool = True
    contract: dict[str, Any] | None = None
    preprocessing: str = ""
    sources: dict[str, str] | None = None

    @property
    def pinned_by(self) -> str:
        """How the entry is pinned: ``"sha256"``, ``"revision"`` or ``"none"``."""
        if not self.filename:
            return "none"
        return pin_status(HubReference(self.repo_id, self.filename, self.revision), self.sha256)

    @property
    def pinned(self) -> bool:
        """True when the entry is pinned by its content or by a full commit."""
        return self.pinned_by != "none"

    def hub_reference(self) -> HubReference | None:
        """Return the entry's file as a :class:`HubReference` (None without a file name)."""
        return HubReference(self.repo_id, self.filename, self.revision) if self.filename else None

    def reference(self, allow_unpinned: bool = False) -> str:
        """Return the ``hf://`` reference of this entry.

        Raises
        ------
        HubReferenceError
            If the entry has no file name, or is not pinned and ``allow_unpinned`` is False.
        """
        ref = self.hub_reference()
        if ref is None:
            raise HubReferenceError(
                f"The known checkpoint {self.name!r} ({self.repo_id}) has no verified file name "
                f"in {REGISTRY_FILE.name} ({self.note}). Download the file yourself and pass "
                f"its path, or add the file name and sha256 to the registry.")
        try:
            check_pinned(ref, self.sha256, allow_unpinned)
        except HubReferenceError as err:
            raise HubReferenceError(
                f"The known checkpoint {self.name!r} is not pinned in {REGISTRY_FILE.name} "
                f"(revision {self.revision!r}, sha256 {self.sha256!r}; {self.note}). Pass "
                f"model.params.allow_unpinned=true to download it from the default branch "
                f"anyway (its rows are then keyed by the commit and sha256 downloaded). "
                f"[{err}]") from None
        return str(ref)

    def contract_overrides(self) -> dict[str, Any]:
        """Return the input-contract values this checkpoint was trained with (may be empty)."""
        return dict(self.contract or {})

    def cached_path(self) -> Path | None:
        """Return the entry's file in the local hub cache, or None (no network request)."""
        ref = self.hub_reference()
        return cached_file(ref) if ref is not None else None


_FIELDS = {f.name for f in fields(KnownCheckpoint)}


def _entry(name: str, entry: dict[str, Any]) -> KnownCheckpoint:
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise ValueError(f"{REGISTRY_FILE}: entry {name!r} has unknown keys {unknown}; "
                         f"allowed keys are {sorted(_FIELDS - {'name'})}.")
    bad = sorted(set(entry.get("contract") or {}) - set(CONTRACT_KEYS))
    if bad:
        raise ValueError(f"Invalid value for the 'contract' key of {REGISTRY_FILE} entry "
                         f"{name!r}. Allowed keys are {list(CONTRACT_KEYS)}, but got {bad}.")
    try:
        return KnownCheckpoint(name=name, **entry)
    except TypeError as err:
        raise ValueError(f"{REGISTRY_FILE}: entry {name!r} is incomplete ({err}).") from None


@functools.cache
def known_checkpoints() -> dict[str, KnownCheckpoint]:
    """Return every registry entry by name (read once from ``known_checkpoints.yaml``).

    Raises
    ------
    ValueError
        If an entry has unknown or missing keys (the message names the entry and key).
    """
    raw: dict[str, Any] = yaml.safe_load(REGISTRY_FILE.read_text()) or {}
    return {name: _entry(name, entry) for name, entry in raw.items()}


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


def find_known_checkpoint(source: str | None, sha256: str | None = None
                          ) -> KnownCheckpoint | None:
    """Return the registry entry a checkpoint source stands for, or None.

    ``known:<name>`` names it; an ``hf://`` reference matches the entry with the same
    repository and file; any source matches the entry whose sha256 is ``sha256``.
    """
    if source and str(source).startswith(KNOWN_PREFIX):
        return get_known_checkpoint(str(source)[len(KNOWN_PREFIX):])
    entries = known_checkpoints().values()
    if source and str(source).startswith(HF_PREFIX):
        ref = parse_hub_reference(str(source))
        for entry in entries:
            if (entry.repo_id, entry.filename) == (ref.repo_id, ref.filename):
                return entry
    if sha256:
        for entry in entries:
            if entry.sha256 and entry.sha256 == sha256.lower():
                return entry
    return None
