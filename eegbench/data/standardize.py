"""Standardize one recording: channels, integrity checks, filtering, resampling, units, windows.

This is the MNE reference path (``preprocess=mne``). Every window leaves here in one unit per
sensor type, at the target sampling rate, with its channels in the recipe's order:

==========================  ==========  ===================
sensor type (MNE)           SI unit     stored unit
==========================  ==========  ===================
eeg, eog, ecg, emg          V           uV  (x 1e6)
mag (magnetometer)          T           fT  (x 1e15)
grad (planar gradiometer)   T/m         fT/cm (x 1e13)
==========================  ==========  ===================

(:data:`eegbench.data.units.UNIT_SCALE`). A recording whose stored unit differs from its
header (e.g. millivolts labelled as volts) is repaired only by an explicit, documented
``channels.scale`` factor in its recipe (logged at load); nothing is rescaled by guesswork.

Windows are either fixed-length over the whole file (``windows.kind: fixed``, one label per
file) or event-locked epochs (``windows.kind: events``, see :mod:`eegbench.data.events`).
After windowing, the number of windows per class is checked against the recipe's
``expected.counts`` for that file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import mne
import numpy as np

from eegbench.data.counts import check_counts
from eegbench.data.events import epoch_windows, find_labelled_events
from eegbench.data.preprocess.mne_backend import filter_resample_mne
from eegbench.data.quality import QualityReport, apply_quality
from eegbench.data.reader_warnings import ReaderWarnings
from eegbench.data.recipe import Recipe, RecipeError, SourceFile
from eegbench.data.units import UNIT_NAME, UNIT_SCALE

logger = logging.getLogger(__name__)

WINDOW_KINDS = ("fixed", "events")


@dataclass(frozen=True)
class PreprocessSpec:
    """Parameters of the standardization (Hydra group ``preprocess``)."""

    sfreq: float = 128.0
    l_freq: float | None = 0.5
    h_freq: float | None = 45.0
    notch: float | None = None
    reference: str | None = None  # None (keep), "average" or a channel name
    backend: str = "mne"  # "mne" or "gpu_fused" (eegbench.data.preprocess)
    device: str = "auto"  # gpu_fused only: "auto", "cpu", "cuda", "cuda:N"
    # gpu_fused only: the cache filters up to this many recordings / channel-samples (at the
    # source rate) in one fused call. Execution settings, not part of the cache key.
    batch_max_files: int = 64
    batch_max_samples: int = 8_000_000

    #: Fields that change how, not what, is computed (left out of the cache key).
    EXECUTION_FIELDS = ("batch_max_files", "batch_max_samples")

    @classmethod
    def from_config(cls, cfg: Any) -> PreprocessSpec:
        """Build from a mapping (e.g. an OmegaConf node), ignoring unknown keys like ``name``."""
        allowed = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in dict(cfg).items() if k in allowed})


def select_channels(raw: mne.io.BaseRaw, recipe: Recipe, source: SourceFile) -> mne.io.BaseRaw:
    """Rename to standard names, pick the recipe's channels in its order and set types/montage.

    Raises
    ------
    RecipeError
        If a required channel is missing from the file.
    """
    spec = recipe.model.channels
    rename = {k: v for k, v in (spec.rename or {}).items() if k in raw.ch_names}
    kept = set(raw.ch_names) - set(rename)
    clash = sorted((k, v) for k, v in rename.items() if v in kept)
    if clash:
        raise RecipeError(
            f"{source.path}: recipe '{recipe.name}' channels.rename would give two channels "
            f"the same name: {', '.join(f'{k!r} -> {v!r}' for k, v in clash)}, but the file "
            f"already has a channel named {clash[0][1]!r}; the file has {raw.ch_names}."
        )
    if rename:
        raw.rename_channels(rename)
    wanted = list(spec.pick)
    missing = [ch for ch in wanted if ch not in raw.ch_names]
    if missing:
        raise RecipeError(
            f"{source.path}: channel(s) {missing} required by recipe '{recipe.name}' are "
            f"missing; the file has {raw.ch_names}."
        )
    expected = recipe.model.expected
    n_expected = None if expected is None else expected.n_channels_in_file
    if n_expected is not None and len(raw.ch_names) != int(n_expected):
        raise RecipeError(
            f"{source.path}: {len(raw.ch_names)} channels in the file but recipe "
            f"'{recipe.name}' expects {n_expected} (expected.n_channels_in_file); the file has "
            f"{raw.ch_names}."
        )
    raw.pick(wanted)
    types = spec.types or {}
    if "all" in types:
        raw.set_channel_types({ch: types["all"] for ch in raw.ch_names}, on_unit_change="ignore")
    unsupported = sorted({t for t in raw.get_channel_types() if t not in UNIT_SCALE})
    if unsupported:
        raise RecipeError(
            f"{source.path}: channel type(s) {unsupported} of the picked channels have no "
            f"standard unit; allowed types are {sorted(UNIT_SCALE)} (recipe '{recipe.name}', "
            "channels.pick / channels.types)."
        )
    scale = spec.scale
    if scale is not None and float(scale) != 1.0:
        # Documented repair for files whose stored unit is not the one their header claims.
        logger.info("%s: multiplying samples by %g (recipe '%s' channels.scale: %s)",
                    source.relpath, float(scale), recipe.name,
                    spec.scale_reason or "no reason given")
        raw.apply_function(lambda x: x * float(scale), picks="all", channel_wise=False)
    declared = recipe.model.sensor_types
    if declared is not None and sorted(set(raw.get_channel_types())) != sorted(set(declared)):
        raise RecipeError(
            f"{source.path}: picked channels have sensor types "
            f"{sorted(set(raw.get_channel_types()))} but recipe '{recipe.name}' declares "
            f"sensor_types {sorted(set(declared))}."
        )
    if spec.montage:
        raw.set_montage(spec.montage, on_missing="warn", verbose="error")
    return raw


def check_sfreq(raw: mne.io.BaseRaw, recipe: Recipe, source: SourceFile) -> None:
    """Raise :class:`RecipeError` if the file's sampling rate is not the declared one."""
    sfreq = raw.info["sfreq"]
    if not np.isclose(sfreq, recipe.declared_sfreq):
        raise RecipeError(
            f"{source.path}: sampling rate is {sfreq} Hz but recipe '{recipe.name}' declares "
            f"{recipe.declared_sfreq} Hz."
        )


def check_integrity(raw: mne.io.BaseRaw, recipe: Recipe, source: SourceFile) -> None:
    """Reject recordings that would silently produce wrong windows.

    Raises
    ------
    RecipeError
        On a sampling rate different from the declared one, NaN/Inf samples, flat channels,
        or a duration outside the recipe's expected range (not checked for a cropped file).
    """
    check_sfreq(raw, recipe, source)
    sfreq = raw.info["sfreq"]
    data = raw.get_data()
    bad = ~np.isfinite(data)
    if bad.any():
        ch_idx, t_idx = np.nonzero(bad)
        raise RecipeError(
            f"{source.path}: {int(bad.sum())} non-finite (NaN/Inf) sample(s), first in channel "
            f"'{raw.ch_names[ch_idx[0]]}' at {t_idx[0] / sfreq:.3f} s."
        )
    flat = [raw.ch_names[i] for i in np.nonzero(np.ptp(data, axis=1) == 0)[0]]
    if flat:
        raise RecipeError(f"{source.path}: flat (constant) channel(s) {flat}.")
    duration = raw.n_times / sfreq
    limits = None if recipe.model.expected is None else recipe.model.expected.duration_s
    lo = 0.0 if limits is None else limits.min
    hi = np.inf if limits is None or limits.max is None else limits.max
    # a cropped file keeps the part its recipe entry states (checked against the recording
    # when it was read): expected.duration_s is about whole files
    if recipe.crop_of(source) is None and not lo <= duration <= hi:
        raise RecipeError(
            f"{source.path}: duration {duration:.1f} s is outside the expected range "
            f"[{lo}, {hi}] s of recipe '{recipe.name}' (truncated file?)."
        )


def filter_resample(raw: mne.io.BaseRaw, spec: PreprocessSpec) -> mne.io.BaseRaw:
    """Apply re-referencing, notch, band-pass and resampling with the backend ``spec.backend``.

    ``mne`` is :func:`eegbench.data.preprocess.mne_backend.filter_resample_mne`; the other
    backends (e.g. ``"gpu_fused"``) live in :mod:`eegbench.data.preprocess.raw_backend`.
    """
    if spec.backend != "mne":
        from eegbench.data.preprocess.raw_backend import filter_resample_raw  # torch: lazy

        return filter_resample_raw(raw, spec)
    return filter_resample_mne(raw, spec)


def fixed_windows(
    data: np.ndarray, sfreq: float, length_s: float, stride_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``data`` (channels, times) into windows; return (windows, onsets in seconds)."""
    n_len = int(round(length_s * sfreq))
    n_stride = int(round(stride_s * sfreq))
    if n_len <= 0 or n_stride <= 0:
        raise ValueError(f"Window length and stride must be positive, got {length_s}, {stride_s}.")
    starts = np.arange(0, data.shape[1] - n_len + 1, n_stride)
    windows = np.stack([data[:, s : s + n_len] for s in starts]) if len(starts) else np.empty(
        (0, data.shape[0], n_len), dtype=data.dtype
    )
    return windows, starts / sfreq


def _window_rows(source: SourceFile, labels: list[str], onsets: np.ndarray,
                 codes: list[str], recipe: Recipe) -> list[dict[str, Any]]:
    return [
        {
            "subject": source.subject,
            "session": source.groups.get("session", "0"),
            "run": source.groups.get("run", "0"),
            "label": recipe.classes.index(label),
            "label_name": label,
            "onset_s": float(onset),
            "event_code": code,
            "source": source.relpath,
        }
        for label, onset, code in zip(labels, onsets, codes, strict=True)
    ]


@dataclass
class CheckedRecording:
    """A recording after :func:`read_checked` and before filtering.

    Attributes
    ----------
    source : SourceFile
        Where it came from.
    raw : mne.io.BaseRaw
        Channels renamed, picked in the recipe's order, typed, integrity-checked (SI units).
    events : DataFrame | None
        Labelled events (``windows.kind: events``), read before the stim channels were
        dropped; ``None`` for fixed windows.
    quality : QualityReport
        The quality checks' report; when ``quality.dropped`` the recording is left out
        (``raw`` is then None).
    """

    source: SourceFile
    raw: mne.io.BaseRaw | None
    events: Any = None
    quality: QualityReport | None = None

    @property
    def dropped(self) -> bool:
        """Whether the quality policy ``drop_file`` leaves the recording out."""
        return self.quality is not None and self.quality.dropped

    @property
    def n_samples(self) -> int:
        """Channel-samples held in memory (n_channels x n_times; 0 once dropped)."""
        return 0 if self.raw is None else len(self.raw.ch_names) * self.raw.n_times


@dataclass
class StandardizedRecording:
    """One recording standardized (:func:`standardize_recording`).

    Attributes
    ----------
    source : SourceFile
        Where it came from.
    windows : ndarray | None
        Shape (n_windows, n_channels, n_times), float32, standard units; None when the
        quality policy left the recording out.
    rows : list of dict
        One metadata row per window.
    info : dict
        Channel names, types, positions, sampling rate, units, modality (empty if dropped).
    quality : QualityReport
        The recording's quality report.
    """

    source: SourceFile
    windows: np.ndarray | None
    rows: list[dict[str, Any]]
    info: dict[str, Any]
    quality: QualityReport

    @property
    def dropped(self) -> bool:
        """Whether the quality policy ``drop_file`` left the recording out."""
        return self.windows is None


def _window_kind(recipe: Recipe) -> str:
    recipe.require_task()
    kind = None if recipe.model.windows is None else recipe.model.windows.kind
    if kind not in WINDOW_KINDS:
        raise RecipeError(
            f"Invalid value for the 'windows.kind' parameter of recipe '{recipe.name}'. "
            f"Allowed values are {list(WINDOW_KINDS)}, but got {kind!r}."
        )
    return kind


def read_checked(source: SourceFile, raw: mne.io.BaseRaw, recipe: Recipe,
                 warnings: ReaderWarnings | None = None) -> CheckedRecording:
    """First half of :func:`standardize_file`: events, channel selection, integrity checks.

    The result carries the recording's :class:`~eegbench.data.quality.QualityReport` (which
    includes the header problems among its reader ``warnings``,
    :func:`eegbench.data.readers.read_recording`); a recording the ``drop_file`` policy leaves
    out comes back with ``dropped`` set.

    Raises
    ------
    RecipeError
        On any input problem (see :func:`select_channels`, :func:`check_integrity`).
    """
    kind = _window_kind(recipe)
    check_sfreq(raw, recipe, source)
    # Events are read before channel selection, which drops stim channels.
    events = find_labelled_events(raw, recipe, source) if kind == "events" else None
    raw = select_channels(raw, recipe, source)
    check_integrity(raw, recipe, source)
    raw, report = apply_quality(raw, recipe, source, warnings)  # clipping, flat runs, amplitudes
    return CheckedRecording(source, None if report.dropped else raw, events, report)


def window_recording(
    source: SourceFile, raw: mne.io.BaseRaw, events: Any, recipe: Recipe,
    check: bool = True,
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    """Second half of :func:`standardize_file`: units, windows, metadata, count checks.

    ``raw`` is the filtered, resampled recording (SI units); see :func:`standardize_file`
    for the outputs. ``check=False`` skips the ``expected.counts`` check (used to compute
    the counts, ``python -m eegbench.data pin --counts``).
    """
    recipe.require_task()
    wspec = recipe.model.windows
    ch_types = raw.get_channel_types()
    scale = np.array([UNIT_SCALE[t] for t in ch_types])[:, None]
    data = raw.get_data() * scale
    sfreq = float(raw.info["sfreq"])
    if events is None:
        windows, onsets = fixed_windows(data, sfreq, wspec.length_s, wspec.stride_s)
        label = recipe.label_of(source)
        rows = _window_rows(source, [label] * len(onsets), onsets, [""] * len(onsets), recipe)
        n_edge = 0
    else:
        windows, keep = epoch_windows(data, sfreq, events["onset_s"].to_numpy(),
                                      float(wspec.tmin), float(wspec.tmax))
        if not keep.all():
            logger.warning("%s: %d of %d event windows cross the recording's edges and were "
                           "dropped (onsets %s s)", source.relpath, int((~keep).sum()),
                           len(keep), events["onset_s"][~keep].round(3).tolist())
        kept = events[keep]
        rows = _window_rows(source, kept["label_name"].tolist(), kept["onset_s"].to_numpy(),
                            kept["code"].tolist(), recipe)
        n_edge = int((~keep).sum())
    crop = recipe.crop_of(source)
    if crop is not None and crop["tmin"]:  # onsets stay in the file's time, crop or not
        start = round(crop["tmin"] * recipe.declared_sfreq) / recipe.declared_sfreq
        for row in rows:
            row["onset_s"] += start
    if check:
        check_counts(rows, recipe, source, duration_s=raw.n_times / sfreq,
                     n_edge_dropped=n_edge)
    info = {
        "ch_names": list(raw.ch_names),
        "ch_types": ch_types,
        "ch_pos": {ch["ch_name"]: ch["loc"][:3].tolist() for ch in raw.info["chs"]},
        "ch_loc": {ch["ch_name"]: ch["loc"].tolist() for ch in raw.info["chs"]},
        "sfreq": sfreq,
        "units": {t: UNIT_NAME[t] for t in sorted(set(ch_types))},
        "modality": recipe.modality,
    }
    logger.debug("%s: %d windows", source.relpath, len(windows))
    return windows.astype(np.float32, copy=False), rows, info


def standardize_recording(
    source: SourceFile, raw: mne.io.BaseRaw, recipe: Recipe, spec: PreprocessSpec,
    warnings: ReaderWarnings | None = None,
) -> StandardizedRecording:
    """Standardize one recording: :func:`read_checked`, :func:`filter_resample`, windows.

    ``warnings`` are the reader's (:func:`eegbench.data.readers.read_recording`), checked
    with the signal quality.

    Returns
    -------
    StandardizedRecording
        Its windows, metadata rows, channel info and quality report (no windows when the
        quality policy ``drop_file`` leaves it out).

    Raises
    ------
    RecipeError
        On any input problem (see :func:`check_integrity`,
        :func:`~eegbench.data.counts.check_counts`).
    """
    rec = read_checked(source, raw, recipe, warnings)
    if rec.dropped:
        return StandardizedRecording(source, None, [], {}, rec.quality)
    filtered = filter_resample(rec.raw, spec)
    return StandardizedRecording(source, *window_recording(source, filtered, rec.events, recipe),
                                 quality=rec.quality)


def standardize_file(
    source: SourceFile, raw: mne.io.BaseRaw, recipe: Recipe, spec: PreprocessSpec,
    warnings: ReaderWarnings | None = None,
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    """Standardize one recording into windows (:func:`standardize_recording`, unpacked).

    :func:`read_checked`, then :func:`filter_resample`, then :func:`window_recording`
    (the cache runs the middle step on batches of recordings for ``gpu_fused``, see
    :mod:`eegbench.data.batched`).

    Returns
    -------
    windows : ndarray, shape (n_windows, n_channels, n_times), float32, standard units
    rows : list of dict
        One metadata row per window (subject, session, run, label, label_name, onset_s,
        event_code, source).
    info : dict
        Channel names, types, positions (and full MNE ``loc`` vectors), output sampling rate,
        units per sensor type and the modality.

    Raises
    ------
    RecipeError
        On any input problem (see :func:`check_integrity`,
        :func:`~eegbench.data.counts.check_counts`), and when the quality policy
        ``drop_file`` leaves the recording out (no windows to return).
    """
    done = standardize_recording(source, raw, recipe, spec, warnings)
    if done.windows is None:
        raise RecipeError(f"{source.path}: left out by the quality policy 'drop_file' "
                          f"(recipe '{recipe.name}'): {done.quality.issues}")
    return done.windows, done.rows, done.info
