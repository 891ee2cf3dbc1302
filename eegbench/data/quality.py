"""Signal-quality control of one recording: clipping, flat segments, implausible amplitudes.

Each recording is checked after channel selection (SI units, before filtering), channel by
channel, in the standard unit of its sensor type (uV for EEG/EOG/ECG/EMG, fT for
magnetometers, fT/cm for gradiometers, see :mod:`eegbench.data.standardize`):

* **clipping / saturation**: the fraction of samples that sit on the channel's own extreme
  values (its minimum or maximum, within ``clip_tolerance`` of the channel's range). A
  clipped amplifier or a saturated ADC holds the signal on one rail value; a healthy channel
  reaches its exact extreme in a handful of samples.
* **flat segments**: the fraction of samples inside runs of at least ``min_flat_s`` seconds
  in which consecutive samples differ by at most ``flat_tolerance`` (standard units): a
  disconnected electrode, a dropped packet filled with zeros.
* **implausible amplitude**: the largest absolute value against ``max_abs_amplitude`` of the
  sensor type.
* **invalid header** (``header_*``): a warning of MNE's reader that means the numbers are
  wrong (e.g. an EDF channel whose physical minimum equals its maximum), see
  :mod:`eegbench.data.reader_warnings`. A header problem of a channel the recipe does not
  pick is only recorded; other reader warnings are logged and kept in the report
  (``reader_warnings``).

Once every recording of a dataset is standardized, the cache compares the recordings'
amplitudes with each other (:mod:`eegbench.data.relative_amplitude`).

The recipe's optional ``quality`` section sets thresholds and the policy::

    quality:
      policy: error            # error | warn | drop_channel | drop_file
      max_clipped_fraction: 0.2
      max_flat_fraction: 0.5
      flat_tolerance: 0.0      # standard units (uV, fT, fT/cm)
      max_abs_amplitude: {eeg: 5000.0, mag: 1.0e+6, grad: 1.0e+5}
      max_amplitude_ratio: 5.0          # recording vs the dataset's median (both ways)
      max_channel_amplitude_ratio: 50.0 # one channel vs that channel's median
      min_files_for_ratio: 3

Policies: ``error`` raises :class:`~eegbench.data.recipe.RecipeError` naming the file, the
channel, the check, the value and the threshold; ``warn`` logs the problem and keeps the
data; ``drop_channel`` marks the channel bad and replaces it by spherical-spline
interpolation from its neighbours (MNE ``interpolate_bads``; every recording keeps the same
channel set), and is an error when the recording has no channel positions; ``drop_file``
leaves the recording out (:attr:`QualityReport.dropped`). Whatever the policy, the report of
every file is recorded in the cache manifest (``quality``) and summarized in each result
row (``data_quality``); :func:`quality_table` turns it into one row per flagged channel for
the dataset catalogue.

Defaults and where they come from:

* ``max_abs_amplitude``: scalp EEG rarely exceeds a few hundred uV, and artefacts
  (movement, electrode pops) reach a few mV; 5000 uV (5 mV) is beyond any physiological
  scalp signal and is where MNE's examples set their most lenient peak-to-peak rejection
  (``reject=dict(eeg=...)`` is typically 100-200 uV; we only refuse the impossible, not the
  noisy); ECG/EMG are larger by nature (20 mV). Magnetometers and gradiometers: MNE's
  sample data use ``reject`` values of 4000 fT and 4000 fT/cm on filtered data; the checks
  run before filtering, where magnetometers keep their DC offset (the shared Elekta
  recording reaches 5.9e4 fT), hence 1e6 fT and 1e5 fT/cm, which still catch unit errors
  (a factor 1e3 or more).
* Measured on every shared recording (all datasets), the defaults flag none: at most
  0.23 % of a channel's samples on its extremes (Muse), at most 1.7 % in flat runs of 1 s
  (eegmat), peaks of 1000 uV (Muse), 5.9e4 fT and 587 fT/cm (Elekta MEG).
* ``max_clipped_fraction`` 0.2 and ``max_flat_fraction`` 0.5: the values agreed in the
  project's interface for the recipe section; a channel with a fifth of its samples on a
  rail, or half of its recording flat, carries too little signal to benchmark on.
* ``min_flat_s`` 1.0 s and ``flat_tolerance`` 0.0: a run of identical samples lasting a
  second does not happen in a connected EEG channel digitised at microvolt resolution,
  whereas shorter runs of equal quantised values do.
* ``clip_tolerance`` 1e-6 of the channel's range: rail values are stored as one digital
  value, so they are equal up to float rounding.
* ``max_amplitude_ratio``, ``max_channel_amplitude_ratio`` and ``min_files_for_ratio``: see
  :mod:`eegbench.data.relative_amplitude`.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from eegbench.data import reader_warnings
from eegbench.data.recipe import RecipeError
from eegbench.data.units import UNIT_SCALE

logger = logging.getLogger(__name__)

#: Allowed values of ``quality.policy``.
POLICIES = ("error", "warn", "drop_channel", "drop_file")

#: Largest plausible absolute value per sensor type, in the standard unit (see module doc).
DEFAULT_MAX_ABS = {"eeg": 5000.0, "eog": 5000.0, "ecg": 20000.0, "emg": 20000.0,
                   "mag": 1e6, "grad": 1e5}

#: Keys of the recipe's ``quality`` section.
QUALITY_KEYS = ("policy", "max_clipped_fraction", "max_flat_fraction", "flat_tolerance",
                "max_abs_amplitude", "min_flat_s", "clip_tolerance", "max_amplitude_ratio",
                "max_channel_amplitude_ratio", "min_files_for_ratio")


@dataclass
class QualityReport:
    """What the quality checks found in one recording and what the policy did about it.

    Returned by :func:`apply_quality` (through
    :func:`eegbench.data.standardize.read_checked`); the cache stores :meth:`to_dict` of
    every recording's report in its manifest (``quality``).

    Attributes
    ----------
    file : str
        The recording's path relative to its dataset folder.
    policy : str
        The recipe's ``quality.policy``.
    issues : list of dict
        ``{"channel", "type", "check", "value", "threshold", ...}`` per problem found.
    action : str
        ``"none"``, ``"kept (warn)"``, ``"interpolated [...]"`` or ``"dropped file"``.
    reader_warnings : list of str
        The reader's warnings that are not header problems (recorded, not failed).
    """

    file: str
    policy: str
    issues: list[dict[str, Any]] = field(default_factory=list)
    action: str = "none"
    reader_warnings: list[str] = field(default_factory=list)

    @property
    def dropped(self) -> bool:
        """Whether the ``drop_file`` policy leaves the recording out."""
        return self.action == DROPPED

    def to_dict(self) -> dict[str, Any]:
        """The report as stored in the cache manifest (``reader_warnings`` only if any)."""
        out: dict[str, Any] = {"file": self.file, "policy": self.policy,
                               "issues": list(self.issues), "action": self.action}
        if self.reader_warnings:
            out["reader_warnings"] = list(self.reader_warnings)
        return out


#: :attr:`QualityReport.action` of a recording the policy leaves out.
DROPPED = "dropped file"


@dataclass(frozen=True)
class QualitySpec:
    """Thresholds and policy of the signal-quality checks (recipe section ``quality``)."""

    policy: str = "error"
    max_clipped_fraction: float = 0.2
    max_flat_fraction: float = 0.5
    flat_tolerance: float = 0.0
    min_flat_s: float = 1.0
    clip_tolerance: float = 1e-6
    max_amplitude_ratio: float = 5.0
    max_channel_amplitude_ratio: float = 50.0
    min_files_for_ratio: int = 3
    max_abs_amplitude: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MAX_ABS))

    @classmethod
    def of(cls, recipe: Any) -> QualitySpec:
        """The settings of ``recipe``'s typed ``quality`` section, defaults filled in.

        The section was validated with the recipe
        (:class:`~eegbench.data.recipe_schema.Quality`), so nothing is checked again here.
        """
        model = recipe.model.quality
        section = {} if model is None else model.model_dump(exclude_none=True)
        amplitudes = {**DEFAULT_MAX_ABS, **section.pop("max_abs_amplitude", {})}
        return cls(**section, max_abs_amplitude=amplitudes)

    @classmethod
    def from_recipe(cls, section: dict[str, Any] | None, where: str = "recipe") -> QualitySpec:
        """Build from a recipe's ``quality`` mapping (``None``: defaults).

        Raises
        ------
        ValueError
            On an unknown key, an unknown policy or a value out of range (MNE-style).
        """
        section = dict(section or {})
        unknown = sorted(set(section) - set(QUALITY_KEYS))
        if unknown:
            hints = {k: difflib.get_close_matches(k, QUALITY_KEYS, n=1) for k in unknown}
            hint = "".join(f" Did you mean {h[0]!r} for {k!r}?" for k, h in hints.items() if h)
            raise ValueError(f"Invalid key(s) {unknown} in the 'quality' section of {where}. "
                             f"Allowed keys are {list(QUALITY_KEYS)}.{hint}")
        policy = str(section.get("policy", cls.policy))
        if policy not in POLICIES:
            raise ValueError(f"Invalid value for the 'quality.policy' parameter of {where}. "
                             f"Allowed values are {list(POLICIES)}, but got {policy!r}.")
        out: dict[str, Any] = {"policy": policy}
        for key, lo, hi in (("max_clipped_fraction", 0.0, 1.0), ("max_flat_fraction", 0.0, 1.0),
                            ("flat_tolerance", 0.0, np.inf), ("min_flat_s", 0.0, np.inf),
                            ("clip_tolerance", 0.0, 1.0)):
            if key in section:
                value = _number(section[key], f"quality.{key}", where)
                if not lo <= value <= hi:
                    raise ValueError(f"Invalid value for the 'quality.{key}' parameter of "
                                     f"{where}: must be in [{lo}, {hi}], but got {value!r}.")
                out[key] = value
        for key in ("max_amplitude_ratio", "max_channel_amplitude_ratio"):
            if key in section:
                value = _number(section[key], f"quality.{key}", where)
                if not value > 1.0:
                    raise ValueError(f"Invalid value for the 'quality.{key}' parameter of "
                                     f"{where}: must be > 1 (a ratio, applied both ways), but "
                                     f"got {value!r}.")
                out[key] = value
        if "min_files_for_ratio" in section:
            value = section["min_files_for_ratio"]
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f"Invalid value for the 'quality.min_files_for_ratio' "
                                 f"parameter of {where}: expected an integer >= 2, but got "
                                 f"{value!r}.")
            out["min_files_for_ratio"] = value
        amplitudes = dict(DEFAULT_MAX_ABS)
        for kind, value in dict(section.get("max_abs_amplitude") or {}).items():
            if kind not in DEFAULT_MAX_ABS:
                raise ValueError(f"Invalid key {kind!r} in 'quality.max_abs_amplitude' of "
                                 f"{where}. Allowed sensor types are {sorted(DEFAULT_MAX_ABS)}.")
            value = _number(value, f"quality.max_abs_amplitude.{kind}", where)
            if value <= 0:
                raise ValueError(f"Invalid value for the 'quality.max_abs_amplitude.{kind}' "
                                 f"parameter of {where}: must be > 0, but got {value!r}.")
            amplitudes[kind] = value
        out["max_abs_amplitude"] = amplitudes
        return cls(**out)


def _number(value: Any, key: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"Invalid value for the '{key}' parameter of {where}: expected a "
                         f"number, but got {value!r} ({type(value).__name__}).")
    return float(value)


def _flat_fraction(x: np.ndarray, tolerance: float, min_run: int) -> float:
    """Fraction of samples in runs of >= ``min_run`` samples with |diff| <= tolerance."""
    if x.size < 2:
        return 0.0
    still = np.abs(np.diff(x)) <= tolerance
    # run boundaries of the True segments of `still` (a run of k steps covers k + 1 samples)
    padded = np.concatenate(([False], still, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    starts, stops = edges[::2], edges[1::2]
    lengths = stops - starts + 1
    return float(lengths[lengths >= min_run].sum()) / x.size


def check_channels(data: np.ndarray, ch_names: list[str], ch_types: list[str], sfreq: float,
                   spec: QualitySpec) -> list[dict[str, Any]]:
    """Return one issue per failed check per channel.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        The recording in standard units (uV, fT, fT/cm).
    ch_names, ch_types : list of str
        Channel names and MNE types.
    sfreq : float
        Sampling rate in Hz.
    spec : QualitySpec
        Thresholds.

    Returns
    -------
    list of dict
        ``{"channel", "type", "check", "value", "threshold"}`` with ``check`` one of
        ``clipped_fraction``, ``flat_fraction``, ``max_abs_amplitude``.
    """
    issues = []
    min_run = max(2, int(round(spec.min_flat_s * sfreq)))
    for x, name, kind in zip(data, ch_names, ch_types, strict=True):
        n = x.size
        if n == 0:
            continue
        lo, hi = float(x.min()), float(x.max())
        span = hi - lo
        if span > 0:
            tol = spec.clip_tolerance * span
            clipped = (int((x >= hi - tol).sum()) + int((x <= lo + tol).sum())) / n
            if clipped > spec.max_clipped_fraction:
                issues.append({"channel": name, "type": kind, "check": "clipped_fraction",
                               "value": round(clipped, 4),
                               "threshold": spec.max_clipped_fraction})
        flat = _flat_fraction(x, spec.flat_tolerance, min_run)
        if flat > spec.max_flat_fraction:
            issues.append({"channel": name, "type": kind, "check": "flat_fraction",
                           "value": round(flat, 4), "threshold": spec.max_flat_fraction})
        limit = spec.max_abs_amplitude.get(kind)
        peak = max(abs(lo), abs(hi))
        if limit is not None and peak > limit:
            issues.append({"channel": name, "type": kind, "check": "max_abs_amplitude",
                           "value": float(f"{peak:.6g}"), "threshold": limit})
    return issues


def header_issues(raw: Any, recipe: Any, source: Any,
                  warnings: reader_warnings.ReaderWarnings | None = None
                  ) -> tuple[list[dict[str, Any]], list[str]]:
    """Turn the reader warnings of ``source`` into issues (and other warnings).

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording after channel selection (standard channel names).
    recipe : Recipe
        Its recipe (``channels.rename`` maps the file's names to the standard ones).
    source : SourceFile
        The file.
    warnings : ReaderWarnings, optional
        What its reader emitted (:func:`eegbench.data.readers.read_recording`); none if
        omitted.

    Returns
    -------
    issues : list of dict
        ``{"channel", "type", "check", "value", "threshold", "detail"}``: ``channel`` is the
        standard name of a picked channel (``None`` for a file-level problem), ``value`` the
        channel's name in the file, ``detail`` what MNE did about it.
    others : list of str
        Warnings that are not header problems of a picked channel (recorded, not failed).
    """
    warnings = warnings or reader_warnings.ReaderWarnings()
    problems, others = reader_warnings.classify(list(warnings.messages),
                                                list(warnings.file_channels))
    rename = dict(recipe.model.channels.rename or {})
    types = dict(zip(raw.ch_names, raw.get_channel_types(), strict=True))
    issues = []
    for check, channels, message in problems:
        if channels is None:
            issues.append({"channel": None, "type": None, "check": check.check, "value": None,
                           "threshold": None, "detail": check.meaning})
            continue
        unused = []
        for name in channels:
            standard = rename.get(name, name)
            if standard in types:
                issues.append({"channel": standard, "type": types[standard],
                               "check": check.check, "value": name, "threshold": None,
                               "detail": check.meaning})
            else:
                unused.append(name)
        if unused or not channels:
            others.append(f"{message.splitlines()[0]} {unused or channels} (channel(s) not "
                          "used by the recipe)" if unused else message)
    return issues, others


def describe(issue: dict[str, Any]) -> str:
    """One line naming an issue's channel, check, value and threshold (or expectation)."""
    if issue["check"].startswith("header_"):
        where = ("the file" if issue["channel"] is None else
                 f"channel '{issue['channel']}' ({issue['type']}; '{issue['value']}' in the "
                 "file)")
        return f"{where}: {issue['check']}: {issue['detail']}"
    if issue.get("expected") is not None:
        return (f"channel '{issue['channel']}' ({issue['type']}): {issue['check']} "
                f"{issue['value']}: {issue['expected']}")
    unit = {"clipped_fraction": "", "flat_fraction": ""}.get(issue["check"], " (standard units)")
    return (f"channel '{issue['channel']}' ({issue['type']}): {issue['check']} "
            f"{issue['value']}{unit} > {issue['threshold']}")


def apply_quality(raw: Any, recipe: Any, source: Any,
                  warnings: reader_warnings.ReaderWarnings | None = None
                  ) -> tuple[Any, QualityReport]:
    """Check one recording and apply the recipe's quality policy.

    Called by :func:`eegbench.data.standardize.read_checked` after channel selection.

    Parameters
    ----------
    raw : mne.io.BaseRaw
        The recording, channels picked and typed, SI units.
    recipe : Recipe
        Its recipe (its typed ``quality`` section holds the settings).
    source : SourceFile
        Where it came from (named in messages and reports).
    warnings : ReaderWarnings, optional
        What its reader emitted (:func:`eegbench.data.readers.read_recording`).

    Returns
    -------
    raw : mne.io.BaseRaw
        The recording (with flagged channels interpolated under ``drop_channel``).
    report : QualityReport
        What was found; ``report.dropped`` when the ``drop_file`` policy leaves the
        recording out.

    Raises
    ------
    RecipeError
        Under ``policy: error`` when a check fails, or under ``drop_channel`` when the
        channels have no positions to interpolate from.
    """
    spec = QualitySpec.of(recipe)
    ch_types = raw.get_channel_types()
    scale = np.array([UNIT_SCALE.get(t, 1.0) for t in ch_types])[:, None]
    issues, others = header_issues(raw, recipe, source, warnings)
    issues += check_channels(raw.get_data() * scale, list(raw.ch_names), ch_types,
                             float(raw.info["sfreq"]), spec)
    report = QualityReport(source.relpath, spec.policy, issues, reader_warnings=others)
    if others:
        for message in others:
            logger.warning("%s: reader warning (recorded in the cache manifest): %s",
                           source.relpath, message.replace("\n", " "))
    if not issues:
        return raw, report
    text = "; ".join(describe(i) for i in issues)
    if spec.policy == "error":
        raise RecipeError(f"{source.path}: signal quality check failed: {text} (recipe "
                          f"'{recipe.name}', quality.policy 'error'; set quality.policy to "
                          "'warn', 'drop_channel' or 'drop_file', or adjust the thresholds, "
                          "to accept it).")
    file_level = [i for i in issues if i["channel"] is None]
    if spec.policy == "drop_file" or (spec.policy == "drop_channel" and file_level):
        # a file-level problem cannot be repaired by interpolating channels
        report.action = DROPPED
        logger.warning("%s: left out by the quality policy '%s': %s", source.relpath,
                       spec.policy, text)
        return raw, report
    if spec.policy == "drop_channel":
        bads = sorted({i["channel"] for i in issues})
        pos = np.array([ch["loc"][:3] for ch in raw.info["chs"]])
        if not np.isfinite(pos).all() or not np.abs(pos).sum(axis=1).all():
            raise RecipeError(f"{source.path}: quality policy 'drop_channel' needs channel "
                              f"positions to interpolate {bads}, but the recording has none "
                              f"(recipe '{recipe.name}': set channels.montage, or use "
                              "quality.policy 'drop_file' or 'error').")
        raw.info["bads"] = bads
        raw.interpolate_bads(reset_bads=True, verbose="error")
        report.action = f"interpolated {bads}"
        logger.warning("%s: channel(s) %s interpolated (quality policy 'drop_channel'): %s",
                       source.relpath, bads, text)
        return raw, report
    report.action = "kept (warn)"
    logger.warning("%s: signal quality: %s (kept: quality.policy 'warn')", source.relpath, text)
    return raw, report


def summarize(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Summarize per-file reports for a result row (``data_quality``).

    Returns
    -------
    dict
        ``{"policy", "n_files", "n_flagged", "flagged": {file: [issue text, ...]}}``.
    """
    flagged = {r["file"]: [f"{i['channel'] or '(file)'}: {i['check']} {i['value']} "
                           f"({r['action']})" for i in r["issues"]]
               for r in reports if r["issues"]}
    policies = sorted({r["policy"] for r in reports})
    out = {"policy": "/".join(policies) if policies else None, "n_files": len(reports),
           "n_flagged": len(flagged), "flagged": flagged}
    warned = {r["file"]: list(r["reader_warnings"]) for r in reports
              if r.get("reader_warnings")}
    if warned:
        out["reader_warnings"] = warned
    return out


def quality_table(info: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one row per flagged channel of a cache entry, for the dataset catalogue.

    Parameters
    ----------
    info : dict
        A cache manifest (``WindowsDataset.info``), whose ``quality`` holds the per-file
        reports.

    Returns
    -------
    list of dict
        ``{"file", "channel", "type", "check", "value", "threshold", "policy", "action"}``;
        empty when every file passed (or the entry predates the checks).
    """
    out = []
    for report in info.get("quality") or []:
        for issue in report.get("issues", []):
            out.append({"file": report["file"], **issue, "policy": report["policy"],
                        "action": report["action"]})
    return out


def spec_dict(section: dict[str, Any] | None) -> dict[str, Any]:
    """Return the effective settings (defaults filled in) of a ``quality`` section."""
    return asdict(QualitySpec.from_recipe(section))
