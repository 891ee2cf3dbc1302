"""Readers: turn one source file into an :class:`mne.io.Raw` (data in volts / teslas).

Readers only parse files; they never repair data silently. Every reader raises
:class:`~eegbench.data.recipe.RecipeError` naming the file when it cannot be parsed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from eegbench.data import reader_warnings
from eegbench.data.recipe import Recipe, RecipeError, SourceFile
from eegbench.registry import Registry

logger = logging.getLogger(__name__)

ReaderFn = Callable[[SourceFile, Recipe], mne.io.BaseRaw]

#: Every reader by name (a recipe's ``source.reader``): the ones defined below and the
#: ``eegbench.readers`` entry points (a function ``reader(source, recipe) -> mne.io.Raw``).
READERS: Registry[ReaderFn] = Registry("reader", group="eegbench.readers",
                                       parameter="source.reader")


def register_reader(name: str) -> Callable[[ReaderFn], ReaderFn]:
    """Register a reader under ``name`` (the recipe's ``source.reader``).

    Raises
    ------
    eegbench.registry.RegistryError
        If a reader named ``name`` is already registered.
    """
    return READERS.register(name)


_QUOTED = re.compile(r"b?'[^']*'" + r'|b?"[^"]*"')


def safe_message(err: BaseException, limit: int = 160) -> str:
    """The first line of ``err``'s message with quoted text removed (it may quote the file).

    Parsers often quote what they could not parse (``invalid literal for int(): 'root:x:0'``);
    an error about a file must never echo its content.
    """
    text = str(err).splitlines()[0] if str(err) else ""
    text = _QUOTED.sub("<...>", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_COLUMN_NAME = re.compile(r"^[\w .()\[\]-]{1,40}$")


def _columns(frame: pd.DataFrame) -> str:
    """The header's column names if they look like names; else only how many there are."""
    names = [str(c) for c in frame.columns]
    if len(names) <= 32 and all(_COLUMN_NAME.match(n) for n in names):
        return str(names)
    return f"{len(names)} column(s) whose names are not shown (not a sample-per-row CSV?)"


def _wrap_read_error(path: Path, err: Exception) -> RecipeError:
    return RecipeError(
        f"Could not read {path}: {type(err).__name__}: {safe_message(err)}. The file may be "
        "truncated or corrupt; check it against the recipe's sha256 and re-download it."
    )


def _register_mne_reader(name: str, read_raw: Callable[..., mne.io.BaseRaw], doc: str) -> None:
    """Register an MNE ``read_raw_*`` function as reader ``name`` (fully loaded, clear errors)."""

    def reader(source: SourceFile, recipe: Recipe) -> mne.io.BaseRaw:
        try:
            # "warning", not "error": reader warnings are captured by read_source
            return read_raw(source.path, preload=True, verbose="warning")
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
    ``sfreq_tolerance`` (relative; default 0.01), ``jitter_tolerance_s`` (default two sample
    periods) and ``max_gap_samples`` (default 5). The timestamps are checked by
    :func:`check_timestamps`; samples are placed at their row index (the timestamps are a
    check, never used to move samples).

    Raises
    ------
    RecipeError
        If the file cannot be parsed, lacks a column, holds non-numeric values, or its
        timestamps disagree with the declared sampling rate, jitter more than declared or
        show dropped samples.
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
                          f"missing; the file has columns {_columns(frame)}.")
    if opts.get("marker_columns") and not markers:
        raise RecipeError(f"{path}: none of the marker columns {opts['marker_columns']} is "
                          f"present; the file has columns {_columns(frame)}.")
    wanted = [time_col, *channels, *markers[:1]]
    numeric = frame[wanted].apply(pd.to_numeric, errors="coerce")
    bad = numeric.isna() & frame[wanted].notna()
    if bad.to_numpy().any():
        col = bad.any().idxmax()
        row = int(bad[col].to_numpy().argmax())
        raise RecipeError(f"{path}: non-numeric value in column {col!r} at data row {row + 1} "
                          "(corrupt file?).")
    times = numeric[time_col].to_numpy(dtype=float)
    crop = recipe.crop_of(source)
    first, last = crop_rows(crop, len(times), recipe.declared_sfreq)
    # a recipe `crop` keeps part of the file: only that part's timestamps must be regular
    check_timestamps(path, times[first:last], recipe.declared_sfreq, opts, first_row=first)
    unit = opts.get("unit", "uV")
    if unit not in _CSV_UNITS:
        raise RecipeError(f"Invalid value for the 'source.csv.unit' parameter of recipe "
                          f"'{recipe.name}'. Allowed values are {sorted(_CSV_UNITS)}, but got "
                          f"{unit!r}.")
    data = numeric[channels].to_numpy(dtype=float).T * _CSV_UNITS[unit]
    names, types = list(channels), ["eeg"] * len(channels)
    if markers:
        stim = numeric[markers[0]].fillna(0).to_numpy(dtype=float)[None, :]
        fractional = np.flatnonzero(stim[0] != np.round(stim[0]))
        if len(fractional):  # a stim channel holds integer codes: 1.5 would become 1
            row = int(fractional[0])
            raise RecipeError(
                f"{path}: marker column {markers[0]!r} holds a non-integer event code "
                f"{float(stim[0, row])!r} at data row {row + 1} ({len(fractional)} such row(s)); "
                "event codes must be integers (as in labels.map). The file is corrupt or the "
                "column is not a marker column (source.csv.marker_columns).")
        data = np.vstack([data, stim])
        names.append(opts.get("stim_channel", "STI"))
        types.append("stim")
    info = mne.create_info(names, recipe.declared_sfreq, types)
    return mne.io.RawArray(data, info, verbose="error")


def crop_rows(crop: dict | None, n_rows: int, sfreq: float) -> tuple[int, int]:
    """The rows ``[first, last)`` of a sample-per-row file that a recipe ``crop`` keeps."""
    if crop is None:
        return 0, n_rows
    first = int(round(crop["tmin"] * sfreq))
    last = n_rows if crop["tmax"] is None else min(int(round(crop["tmax"] * sfreq)), n_rows)
    return first, last


def check_timestamps(path: Path, times: np.ndarray, sfreq: float, opts: dict,
                     first_row: int = 0) -> float:
    """Check a CSV's timestamps against the declared sampling rate; return the estimated rate.

    Streaming software such as muse-lsl stamps samples in chunks (12 samples per chunk for a
    Muse), so consecutive timestamps can repeat or step back by tens of milliseconds while no
    sample is missing. The check therefore works on the whole series:

    1. the sampling rate is the inverse slope of a least-squares line of the timestamps on
       the sample index; it must match ``sfreq`` within ``sfreq_tolerance`` (relative);
    2. dropped samples shift every later timestamp: the lower envelope of the residuals
       (their minimum over blocks of one second, i.e. the least-delayed sample of each
       second; the last second in eighths, so that a step inside it is seen too) steps up by
       the missing duration. A step of more than ``max_gap_samples`` sample periods is
       reported as a gap, with the data row and time where it occurs;
    3. every residual must lie within ``jitter_tolerance_s`` of the envelope (chunk jitter).

    Parameters
    ----------
    path : Path
        The file (named in errors).
    times : ndarray
        One timestamp per data row, in seconds.
    sfreq : float
        The recipe's declared sampling rate.
    opts : dict
        The recipe's ``source.csv`` section.
    first_row : int
        Data row (0-based) of ``times[0]`` in the file, when only part of it is checked
        (a recipe ``crop``); rows and times in errors are the file's.

    Returns
    -------
    float
        The sampling rate estimated by the regression.

    Raises
    ------
    RecipeError
        Naming the file, the data row and the time of the first problem.
    """
    n = len(times)
    if n < 2:
        raise RecipeError(f"{path}: {n} sample row(s); the file is empty or truncated.")
    index = np.arange(n, dtype=float)
    slope, intercept = np.polyfit(index, times - times[0], 1)
    if slope <= 0:
        raise RecipeError(f"{path}: timestamps do not increase over the file (slope "
                          f"{slope:.3g} s per row); the time column is not a clock.")
    estimated = 1.0 / slope
    tol = float(opts.get("sfreq_tolerance", 0.01))
    if abs(estimated - sfreq) > tol * sfreq:
        raise RecipeError(f"{path}: sampling rate estimated from the timestamps (linear fit "
                          f"over {n} rows) is {estimated:.3f} Hz but the recipe declares "
                          f"{sfreq} Hz (source.csv.sfreq_tolerance {tol:.1%}).")
    residual = times - times[0] - (intercept + slope * index)
    bounds = _envelope_bounds(n, max(int(round(sfreq)), 1))
    envelope = np.minimum.reduceat(residual, bounds[:-1])
    max_gap = float(opts.get("max_gap_samples", 5)) / sfreq
    if len(envelope) > 1:
        jumps = np.diff(envelope)
        j = int(np.argmax(np.abs(jumps)))
        if abs(jumps[j]) > max_gap:
            lo, hi = bounds[j], bounds[j + 2]
            steps = np.diff(times[lo:hi])
            row = lo + int(np.argmax(steps) if jumps[j] > 0 else np.argmin(steps)) + 1
            lost = times[row] - times[row - 1] - 1.0 / sfreq  # the step less one period
            what = (f"about {lost * sfreq:.0f} sample(s) ({lost:.3f} s) were dropped"
                    if jumps[j] > 0 else
                    f"the clock steps back by {-jumps[j]:.3f} s (more samples than time)")
            raise RecipeError(
                f"{path}: timestamp gap at data row {first_row + row + 1} "
                f"({first_row / sfreq + times[row] - times[0]:.3f} s into the file): {what}, "
                f"more than source.csv.max_gap_samples "
                f"({max_gap * sfreq:g} samples). Event times after it would be misplaced; "
                "exclude the file (recipe `exclude`), or keep the part before it (recipe "
                "`crop`), or repair it."
            )
    jitter_tol = float(opts.get("jitter_tolerance_s", 2.0 / sfreq))
    deviation = residual - np.repeat(envelope, np.diff(bounds))
    k = int(np.argmax(np.abs(deviation)))
    if abs(deviation[k]) > jitter_tol:
        raise RecipeError(
            f"{path}: timestamp at data row {first_row + k + 1} "
            f"({first_row / sfreq + times[k] - times[0]:.3f} s into the file) deviates by "
            f"{deviation[k] * 1e3:.1f} ms from the regular {estimated:.3f} Hz "
            f"clock, more than source.csv.jitter_tolerance_s ({jitter_tol * 1e3:.1f} ms). If "
            "the device stamps samples in chunks, declare a larger jitter_tolerance_s."
        )
    return float(estimated)


def _envelope_bounds(n: int, block: int) -> np.ndarray:
    """Start rows of the envelope's blocks (one second each, the last one in eighths), then n.

    A step of the timestamps inside a block shows as a jump between that block's minimum and
    the next one's; the last block has no next block, so a step inside it would be read as
    jitter. Its eighths (32 rows at 256 Hz: more than two 12-sample Muse chunks, so each
    still holds a least-delayed sample) give the step a next block. A final piece shorter
    than half an eighth joins the piece before it.
    """
    starts = list(range(0, n, block))
    last = starts.pop()
    sub = max(block // 8, 1)
    tail = list(range(last, n, sub))
    if len(tail) > 1 and n - tail[-1] < max(sub // 2, 1):
        tail.pop()
    return np.array([*starts, *tail, n])


@register_reader("bids")
def read_bids(source: SourceFile, recipe: Recipe) -> mne.io.BaseRaw:
    """Read one recording of a BIDS tree with mne-bids (``source.folder`` is the BIDS root).

    The BIDS entities (subject, session, task, run, ...) come from the file name; mne-bids
    applies the sidecars: channel types and bad channels from ``channels.tsv`` and the events
    of ``events.tsv`` as annotations (``trial_type`` -> description), so a recipe reads them
    with ``windows.events: {from: annotations}`` and ``labels.map`` on the trial types. The
    recipe's ``source.pattern`` names the groups it needs (``subject``, ``session``, ``run``,
    ``task``); ``source.bids`` may restrict the ``datatype``.

    Raises
    ------
    RecipeError
        If mne-bids cannot read the recording or its sidecars.
    """
    from mne_bids import BIDSPath, get_entities_from_fname, read_raw_bids

    opts = recipe.source.get("bids") or {}
    root = Path(str(source.path)[: -len(source.relpath)])
    entities = {k: v for k, v in get_entities_from_fname(source.path.name).items()
                if v is not None}
    datatype = opts.get("datatype") or source.path.parent.name
    suffix = source.path.name.rsplit("_", 1)[-1].split(".", 1)[0]
    try:
        bids_path = BIDSPath(root=root, datatype=datatype, suffix=suffix,
                             extension=source.path.suffix, **entities)
        raw = read_raw_bids(bids_path, verbose="warning")  # warnings captured by read_source
        raw.load_data(verbose="error")
    except Exception as err:  # mne-bids raises many types on malformed trees
        raise RecipeError(f"Could not read {source.path} as BIDS ({type(err).__name__}: "
                          f"{safe_message(err)}); check its sidecar files "
                          "(channels.tsv, events.tsv, *_eeg.json).") from err
    return raw


def edf_header_check(path: Path) -> tuple[bool, str] | None:
    """Compare an EDF/BDF file's size with what its header declares.

    Returns
    -------
    (consistent, description) or None
        None when ``path`` is not an EDF/BDF file or its header cannot be parsed.
    """
    if path.suffix.lower() not in {".edf", ".bdf"}:
        return None
    try:
        with open(path, "rb") as fh:
            fixed = fh.read(256)
            header_bytes = int(fixed[184:192].decode("ascii").strip())
            n_records = int(fixed[236:244].decode("ascii").strip())
            record_s = float(fixed[244:252].decode("ascii").strip())
            n_signals = int(fixed[252:256].decode("ascii").strip())
            fh.seek(256 + n_signals * 216)
            samples = [int(fh.read(8).decode("ascii").strip()) for _ in range(n_signals)]
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    width = 3 if path.suffix.lower() == ".bdf" else 2
    expected = header_bytes + n_records * sum(samples) * width
    actual = path.stat().st_size
    duration = n_records * record_s
    if actual >= expected:
        return True, (f"its EDF header agrees ({n_records} records of {record_s:g} s = "
                      f"{duration:g} s, and the file holds all of them)")
    return False, (f"its EDF header declares {n_records} records ({duration:g} s) but the file "
                   f"holds {max(actual - header_bytes, 0) // max(sum(samples) * width, 1)}: "
                   "it is truncated")


def read_source(source: SourceFile, recipe: Recipe) -> mne.io.BaseRaw:
    """Read ``source`` with the reader the recipe names (:func:`read_recording`, raw only).

    Raises
    ------
    RecipeError
        If the reader is unknown or the file cannot be read.
    """
    return read_recording(source, recipe)[0]


def read_recording(source: SourceFile, recipe: Recipe
                   ) -> tuple[mne.io.BaseRaw, reader_warnings.ReaderWarnings]:
    """Read ``source`` with the reader the recipe names; return it with its reader warnings.

    The warnings MNE emits while reading are captured and returned for the file's quality
    check (:mod:`eegbench.data.reader_warnings`): never discarded.

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
    with reader_warnings.capture() as messages:
        raw = READERS[name](source, recipe)
    found = reader_warnings.ReaderWarnings(tuple(messages), tuple(raw.ch_names))
    found.log(source.relpath)
    crop = recipe.crop_of(source)
    if crop is not None:
        raw = apply_crop(raw, crop, source)
    return raw, found


def apply_crop(raw: mne.io.BaseRaw, crop: dict, source: SourceFile) -> mne.io.BaseRaw:
    """Keep ``[tmin, tmax)`` seconds of ``raw`` (a recipe ``crop`` entry), logged with its reason.

    Raises
    ------
    RecipeError
        If the crop does not lie inside the recording.
    """
    duration = raw.n_times / raw.info["sfreq"]
    tmin, tmax = crop["tmin"], crop["tmax"]
    if tmin >= duration or (tmax is not None and tmax > duration):
        raise RecipeError(
            f"Invalid value for the 'crop' entry of {source.relpath}: [{tmin}, {tmax}] s does "
            f"not lie inside the recording, which lasts {duration:.3f} s.")
    stop = duration if tmax is None else tmax
    logger.info("%s: keeping %.3f-%.3f s of %.3f s (recipe crop: %s)", source.relpath, tmin,
                stop, duration, crop["reason"])
    # samples [round(tmin * sfreq), round(tmax * sfreq)), as for the CSV timestamp check
    first = int(round(tmin * raw.info["sfreq"]))
    last = int(round(stop * raw.info["sfreq"]))
    return raw.crop(tmin=first / raw.info["sfreq"], tmax=(last - 1) / raw.info["sfreq"],
                    include_tmax=True, verbose="error")
