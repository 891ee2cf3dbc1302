"""Readers: turn one source file into an :class:`mne.io.Raw` (data in volts / teslas).

Readers only parse files; they never repair data silently. Every reader raises
:class:`~eegbench.data.recipe.RecipeError` naming the file when it cannot be parsed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from eegbench.data.recipe import Recipe, RecipeError, SourceFile

logger = logging.getLogger(__name__)

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


def _register_mne_reader(name: str, read_raw: Callable[..., mne.io.BaseRaw], doc: str) -> None:
    """Register an MNE ``read_raw_*`` function as reader ``name`` (fully loaded, clear errors)."""

    def reader(source: SourceFile, recipe: Recipe) -> mne.io.BaseRaw:
        try:
            return read_raw(source.path, preload=True, verbose="error")
        except Exception as err:  # MNE raises a variety of errors on malformed files
            raise _wrap_read_error(source.path, err) from err

    reader.__name__ = f"read_{name}"
    reader.__doc__ = doc
    register_reader(name)(reader)


_register_mne_reader("edf", mne.io.read_raw_edf, "Read an EDF/EDF+ file with MNE.")
_register_mne_reader("fif", mne.io.read_raw_fif,
                     "Read a FIF raw file (Elekta/MEGIN MEG, or EEG saved by MNE).")
_register_mne_reader("eeglab", mne.io.read_raw_eeglab,
                     "Read a continuous EEGLAB .set file (its .fdt data file is a companion).")


#: Unit of CSV samples -> factor to volts.
_CSV_UNITS = {"uV": 1e-6, "mV": 1e-3, "V": 1.0}


@register_reader("csv")
def read_csv(source: SourceFile, recipe: Recipe) -> mne.io.BaseRaw:
    """Read a sample-per-row CSV (e.g. Muse / eeg-notebooks) into an :class:`mne.io.RawArray`.

    Options come from the recipe's ``source.csv`` section: ``time_column`` (seconds),
    ``channels`` (EEG columns), ``unit`` of the samples (``uV``/``mV``/``V``),
    ``marker_columns`` (the first present one becomes a stim channel named ``stim_channel``),
    ``sfreq_tolerance`` (relative; default 0.01) and ``max_gap_samples`` (default 5).

    The sampling rate is estimated from the timestamps and must match the recipe's ``sfreq``
    within the tolerance; a gap between timestamps longer than ``max_gap_samples`` sample
    periods (dropped samples) is an error, because epochs after it would be misplaced.

    Raises
    ------
    RecipeError
        If the file cannot be parsed, lacks a column, holds non-numeric values, or its
        timestamps disagree with the declared sampling rate.
    """
    opts = recipe.source.get("csv") or {}
    path = source.path
    try:
        frame = pd.read_csv(path)
    except Exception as err:
        raise _wrap_read_error(path, err) from err
    time_col = opts.get("time_column", "timestamps")
    channels = list(opts["channels"])
    markers = [c for c in opts.get("marker_columns", []) if c in frame.columns]
    missing = [c for c in [time_col, *channels] if c not in frame.columns]
    if missing:
        raise RecipeError(f"{path}: column(s) {missing} required by recipe '{recipe.name}' are "
                          f"missing; the file has columns {list(frame.columns)}.")
    if opts.get("marker_columns") and not markers:
        raise RecipeError(f"{path}: none of the marker columns {opts['marker_columns']} is "
                          f"present; the file has columns {list(frame.columns)}.")
    wanted = [time_col, *channels, *markers[:1]]
    numeric = frame[wanted].apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & frame[wanted].notna()
    if bad.to_numpy().any():
        col = bad.any().idxmax()
        row = int(bad[col].to_numpy().argmax())
        raise RecipeError(f"{path}: non-numeric value {frame[col].iloc[row]!r} in column "
                          f"{col!r} at data row {row + 1} (corrupt file?).")
    times = numeric[time_col].to_numpy(dtype=float)
    _check_timestamps(path, times, recipe.declared_sfreq, opts)
    unit = opts.get("unit", "uV")
    if unit not in _CSV_UNITS:
        raise RecipeError(f"Invalid value for the 'source.csv.unit' parameter of recipe "
                          f"'{recipe.name}'. Allowed values are {sorted(_CSV_UNITS)}, but got "
                          f"{unit!r}.")
    data = numeric[channels].to_numpy(dtype=float).T * _CSV_UNITS[unit]
    names, types = list(channels), ["eeg"] * len(channels)
    if markers:
        stim = numeric[markers[0]].fillna(0).to_numpy(dtype=float)[None, :]
        data = np.vstack([data, stim])
        names.append(opts.get("stim_channel", "STI"))
        types.append("stim")
    info = mne.create_info(names, recipe.declared_sfreq, types)
    return mne.io.RawArray(data, info, verbose="error")


def _check_timestamps(path: Path, times: np.ndarray, sfreq: float, opts: dict) -> None:
    """Check a CSV's timestamps against the declared sampling rate (see :func:`read_csv`)."""
    if len(times) < 2:
        raise RecipeError(f"{path}: {len(times)} sample row(s); the file is empty or truncated.")
    steps = np.diff(times)
    if (steps <= 0).any():
        i = int(np.argmax(steps <= 0))
        raise RecipeError(f"{path}: timestamps are not increasing at data row {i + 2} "
                          f"({times[i]} then {times[i + 1]}).")
    estimated = (len(times) - 1) / (times[-1] - times[0])
    tol = float(opts.get("sfreq_tolerance", 0.01))
    if abs(estimated - sfreq) > tol * sfreq:
        raise RecipeError(f"{path}: sampling rate estimated from the timestamps is "
                          f"{estimated:.2f} Hz but the recipe declares {sfreq} Hz "
                          f"(tolerance {tol:.0%}).")
    max_gap = float(opts.get("max_gap_samples", 5)) / sfreq
    if steps.max() > max_gap:
        i = int(np.argmax(steps))
        raise RecipeError(f"{path}: gap of {steps[i]:.3f} s between data rows {i + 1} and "
                          f"{i + 2} (more than {max_gap:.3f} s): samples were dropped, so "
                          "event times after it would be wrong.")


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
