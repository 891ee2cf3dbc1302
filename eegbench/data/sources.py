"""Recording files a recipe discovers, their companions, and their checksums.

:meth:`eegbench.data.recipe.Recipe.discover` finds them; the cache hashes every file once
(:func:`verify_checksums_keyed`: the sha256 the recipe pins and the content key that signs a
cache manifest, :func:`eegbench.hashing.file_digests`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eegbench.data.errors import RecipeError
from eegbench.hashing import file_digests, sha256_of


@dataclass(frozen=True)
class Companion:
    """A file that belongs to a recording (events file, EEGLAB ``.fdt`` data, ...)."""

    role: str
    path: Path
    relpath: str
    sha256: str | None


@dataclass(frozen=True)
class SourceFile:
    """One recording file found on disk, with the metadata parsed from its name."""

    path: Path
    relpath: str
    groups: dict[str, str]
    sha256: str | None  # pinned checksum, None when the recipe does not pin this file
    companions: tuple[Companion, ...] = ()

    def companion(self, role: str) -> Companion:
        """Return the companion file playing ``role`` (declared in ``source.companions``).

        Raises
        ------
        RecipeError
            If the recipe declares no companion with that role.
        """
        for comp in self.companions:
            if comp.role == role:
                return comp
        raise RecipeError(
            f"{self.path}: no companion file with role {role!r}; declared roles are "
            f"{[c.role for c in self.companions]} (recipe section source.companions)."
        )

    @property
    def subject(self) -> str:
        """Subject identifier parsed from the file name."""
        return self.groups["subject"]


def _check_pin(source: SourceFile, actual: str) -> str:
    if source.sha256 is not None and actual != source.sha256:
        raise RecipeError(
            f"Checksum mismatch for {source.path}: expected sha256 {source.sha256}, got "
            f"{actual}. The file is corrupt, truncated or not the released version; "
            "re-download it."
        )
    return actual


def verify_checksum(source: SourceFile) -> str:
    """Hash ``source`` and compare with its pinned checksum.

    Returns
    -------
    str
        The file's sha256.

    Raises
    ------
    RecipeError
        If the file is pinned and its sha256 differs.
    """
    return _check_pin(source, sha256_of(source.path))


def verify_checksums_keyed(source: SourceFile) -> tuple[dict[str, str], dict[str, str]]:
    """:func:`verify_checksums`, plus each file's content key (:func:`file_digests`).

    Each file is read once for both digests.

    Returns
    -------
    hashes : dict
        ``{relpath: sha256}`` of the source file and its companions.
    content_keys : dict
        ``{relpath: content key}`` of the same files.
    """
    hashes, keys = {}, {}
    for item in (source, *(SourceFile(c.path, c.relpath, {}, c.sha256)
                           for c in source.companions)):
        actual, keys[item.relpath] = file_digests(item.path)
        hashes[item.relpath] = _check_pin(item, actual)
    return hashes, keys


def verify_checksums(source: SourceFile) -> dict[str, str]:
    """Verify a source file and its companions; return ``{relpath: sha256}`` for all of them.

    Raises
    ------
    RecipeError
        If any pinned file's sha256 differs.
    """
    hashes = {source.relpath: verify_checksum(source)}
    for comp in source.companions:
        hashes[comp.relpath] = verify_checksum(
            SourceFile(comp.path, comp.relpath, {}, comp.sha256))
    return hashes
