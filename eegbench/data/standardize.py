"""Standardize one recording: channels, integrity checks, filtering, resampling, units, windows.

This is the MNE reference path (``preprocess=mne``). Every window leaves here in one unit per
sensor type (microvolts for EEG), at the target sampling rate, with its channels in the
recipe's order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import mne
import numpy as np

from eegbench.data.recipe import Recipe, RecipeError, SourceFile

logger = logging.getLogger(__name__)

#: Scale factors from SI units to the stored unit, per sensor type.
UNIT_SCALE = {"eeg": 1e6}  # volts -> microvolts
UNIT_NAME = {"eeg": "uV"}


@dataclass(frozen=True)
class PreprocessSpec:
    """Parameters of the standardization (Hydra group ``preprocess``)."""

    sfreq: float = 128.0
    l_freq: float | None = 0.5
    h_freq: float | None = 45.0
    notch: float | None = None
    reference: str | None = None  # None (keep), "average"
    backend: str = "mne"

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
    spec = recipe.channels
    rename = {k: v for k, v in (spec.get("rename") or {}).items() if k in raw.ch_names}
    if rename:
        raw.rename_channels(rename)
    wanted = list(spec["pick"])
    missing = [ch for ch in wanted if ch not in raw.ch_names]
    if missing:
        raise RecipeError(
            f"{source.path}: channel(s) {missing} required by recipe '{recipe.name}' are "
            f"missing; the file has {raw.ch_names}."
        )
    raw.pick(wanted)
    types = spec.get("types") or {}
    if "all" in types:
        raw.set_channel_types({ch: types["all"] for ch in raw.ch_names}, on_unit_change="ignore")
    if spec.get("montage"):
        raw.set_montage(spec["montage"], on_missing="warn", verbose="error")
    return raw


def check_integrity(raw: mne.io.BaseRaw, recipe: Recipe, source: SourceFile) -> None:
    """Reject recordings that would silently produce wrong windows.

    Raises
    ------
    RecipeError
        On a sampling rate different from the declared one, NaN/Inf samples, flat channels,
        or a duration outside the recipe's expected range.
    """
    sfreq = raw.info["sfreq"]
    if not np.isclose(sfreq, recipe.declared_sfreq):
        raise RecipeError(
            f"{source.path}: sampling rate is {sfreq} Hz but recipe '{recipe.name}' declares "
            f"{recipe.declared_sfreq} Hz."
        )
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
    limits = recipe.expected.get("duration_s") or {}
    lo, hi = limits.get("min", 0.0), limits.get("max", np.inf)
    if not lo <= duration <= hi:
        raise RecipeError(
            f"{source.path}: duration {duration:.1f} s is outside the expected range "
            f"[{lo}, {hi}] s of recipe '{recipe.name}' (truncated file?)."
        )


def filter_resample(raw: mne.io.BaseRaw, spec: PreprocessSpec) -> mne.io.BaseRaw:
    """Apply re-referencing, notch, band-pass (zero-phase FIR) and resampling with MNE."""
    if spec.reference == "average":
        raw.set_eeg_reference("average", projection=False, verbose="error")
    if spec.notch:
        raw.notch_filter(spec.notch, verbose="error")
    if spec.l_freq is not None or spec.h_freq is not None:
        raw.filter(spec.l_freq, spec.h_freq, verbose="error")
    if not np.isclose(raw.info["sfreq"], spec.sfreq):
        raw.resample(spec.sfreq, verbose="error")
    return raw


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


def standardize_file(
    source: SourceFile, raw: mne.io.BaseRaw, recipe: Recipe, spec: PreprocessSpec
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    """Standardize one recording into windows.

    Returns
    -------
    windows : ndarray, shape (n_windows, n_channels, n_times), float32, microvolts
    rows : list of dict
        One metadata row per window (subject, session, run, label, onset_s, source).
    info : dict
        Channel names, types, positions and the output sampling rate.
    """
    raw = select_channels(raw, recipe, source)
    check_integrity(raw, recipe, source)
    raw = filter_resample(raw, spec)
    ch_types = raw.get_channel_types()
    scale = np.array([UNIT_SCALE[t] for t in ch_types])[:, None]
    data = raw.get_data() * scale
    wspec = recipe.windows
    if wspec["kind"] != "fixed":
        raise RecipeError(
            f"Invalid value for the 'windows.kind' parameter of recipe '{recipe.name}'. "
            f"Allowed values are ['fixed'], but got {wspec['kind']!r}."
        )
    windows, onsets = fixed_windows(data, spec.sfreq, wspec["length_s"], wspec["stride_s"])
    label = recipe.label_of(source)
    rows = [
        {
            "subject": source.subject,
            "session": source.groups.get("session", "0"),
            "run": source.groups.get("run", "0"),
            "label": recipe.classes.index(label),
            "label_name": label,
            "onset_s": float(onset),
            "source": source.relpath,
        }
        for onset in onsets
    ]
    info = {
        "ch_names": list(raw.ch_names),
        "ch_types": ch_types,
        "ch_pos": {ch["ch_name"]: ch["loc"][:3].tolist() for ch in raw.info["chs"]},
        "sfreq": float(spec.sfreq),
        "units": {t: UNIT_NAME[t] for t in set(ch_types)},
    }
    logger.debug("%s: %d windows of label %s", source.relpath, len(windows), label)
    return windows.astype(np.float32), rows, info
