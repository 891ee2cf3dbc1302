"""Readers: turn one source file into an :class:`mne.io.Raw` (data in volts / teslas)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mne

from eegbench.data.recipe import Recipe, RecipeError, SourceFile

ReaderFn = Callable[[SourceFile, Recipe], mne.io.BaseRaw]

READERS: dict[str, ReaderFn] = {}


def register_reader(name: str) -> Callable[[ReaderFn], ReaderFn]:
    """Register a reader under ``name`` (the recipe's ``source.reader``)."""

    def _decorator(fn: ReaderFn) -> ReaderFn:
        if name in READERS:
            raise ValueError(f"A reader named '{name}' is already registered.")
        READERS[name] = fn
        return fn

    return _decorator


def _wrap_read_error(path: Path, err: Exception) -> RecipeError:
    return RecipeError(
        f"Could not read {path}: {type(err).__name__}: {err}. The file may be truncated or "
        "corrupt; check it against the recipe's sha256 and re-download it."
    )


@register_reader("edf")
def read_edf(source: SourceFile, recipe: Recipe) -> mne.io.BaseRaw:
    """Read an EDF/EDF+ file with MNE, fully loaded."""
    try:
        return mne.io.read_raw_edf(source.path, preload=True, verbose="error")
    except Exception as err:  # MNE raises a variety of errors on malformed headers
        raise _wrap_read_error(source.path, err) from err


def read_source(source: SourceFile, recipe: Recipe) -> mne.io.BaseRaw:
    """Read ``source`` with the reader the recipe names.

    Raises
    ------
    RecipeError
        If the reader is unknown or the file cannot be read.
    """
    name = recipe.source["reader"]
    if name not in READERS:
        raise RecipeError(
            f"Invalid value for the 'source.reader' parameter of recipe '{recipe.name}'. "
            f"Allowed values are {sorted(READERS)}, but got {name!r}."
        )
    return READERS[name](source, recipe)
