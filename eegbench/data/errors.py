"""The error every recipe and source-file problem raises (one MNE-style message each)."""

from __future__ import annotations


class RecipeError(ValueError):
    """A recipe is malformed or its source files do not match it."""


class CountMismatch(RecipeError):
    """The windows per class of one file differ from the recipe's ``expected.counts``.

    Raised per file by :func:`eegbench.data.counts.check_counts`; the cache build goes
    on with the other files and then raises :class:`CountMismatches` listing all of them.
    """

    def __init__(self, relpath: str, message: str) -> None:
        super().__init__(message)
        self.relpath = relpath


class CountMismatches(RecipeError):
    """Several files' windows per class differ from ``expected.counts`` (all listed)."""

    def __init__(self, recipe: str, errors: list[CountMismatch], n_files: int) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(
            f"Recipe '{recipe}': {len(self.errors)} of {n_files} file(s) do not match "
            f"expected.counts:\n{lines}"
        )
