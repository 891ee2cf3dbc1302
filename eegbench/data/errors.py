"""The error every recipe and source-file problem raises (one MNE-style message each)."""

from __future__ import annotations


class RecipeError(ValueError):
    """A recipe is malformed or its source files do not match it."""
