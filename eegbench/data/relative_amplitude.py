"""Relative amplitude: flag a recording whose amplitude is far from the dataset's others.

A gain or unit error (a recording written x10, a channel read at 1/80 of its scale because
its EDF header is invalid) passes the per-file checks of :mod:`eegbench.data.quality` while
its values stay plausible. Once every recording of a dataset is standardized, the cache
compares them (:func:`apply`):

* each recording's robust amplitude per channel (:func:`robust_amplitude`: the median, over
  its windows, of the window's standard deviation; filtered, standard units) is divided by
  the median of that channel over the dataset's recordings;
* a recording whose median ratio over its channels exceeds ``quality.max_amplitude_ratio``
  (or falls below its inverse) is at another scale than the others (``amplitude_ratio``);
* a channel whose own ratio exceeds ``quality.max_channel_amplitude_ratio`` (or falls below
  its inverse) is flagged alone (``channel_amplitude_ratio``);
* it needs ``quality.min_files_for_ratio`` recordings (the median of fewer is no reference).

The recipe's ``quality.policy`` applies: ``error`` raises naming every flagged file and
channel with the amplitude found and the one expected, ``warn`` keeps the file,
``drop_file`` leaves it out, and so does ``drop_channel`` (the windows are already cut,
nothing can be interpolated any more); the issues join the files' quality reports.

Defaults: ``max_amplitude_ratio`` 5 and ``max_channel_amplitude_ratio`` 50. Measured on every
shared recording with this statistic (default preprocessing, the recipes' windows), the
median ratio over a recording's channels lies within 0.60-1.61 (eegmat, 72 recordings),
0.75-2.66 (Muse visual P300, 45), 0.78-2.02 (Muse N170, 18), 0.93-1.10 (Muse auditory
P300, 6), 0.79-1.70 (SSVEP exoskeleton, 12), 0.96-1.14 (eegmmidb S001, 3 per task); single
channels reach 28.6 (a Muse electrode without skin contact) and go down to 0.46. A gain or
unit error of x10 (or /10) on a recording is caught, x1.5 is not; a single channel at another
scale by 50 or more (an EDF channel read with an undefined physical range lands at about
1/80 of its scale in eegmat) is caught too. ``min_files_for_ratio`` 3: with three recordings
the median is a healthy one's whenever at most one is off.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from eegbench.data.quality import QualitySpec, describe
from eegbench.data.recipe import Recipe, RecipeError
from eegbench.data.units import UNIT_NAME

logger = logging.getLogger(__name__)


def robust_amplitude(windows: np.ndarray) -> np.ndarray:
    """Return each channel's robust amplitude: the median over windows of the window's std.

    Parameters
    ----------
    windows : ndarray, shape (n_windows, n_channels, n_times)
        One recording's standardized windows (filtered, standard units).

    Returns
    -------
    ndarray, shape (n_channels,)
        NaN for a recording without windows.
    """
    if not len(windows):
        return np.full(windows.shape[1], np.nan)
    return np.median(np.asarray(windows, dtype=np.float64).std(axis=2), axis=0)


def relative_amplitude_issues(amplitudes: dict[str, np.ndarray], ch_names: list[str],
                              ch_types: list[str], spec: QualitySpec
                              ) -> dict[str, list[dict[str, Any]]]:
    """Flag the recordings whose amplitude is far from the dataset's other recordings.

    Parameters
    ----------
    amplitudes : dict
        ``{file: robust amplitude per channel}`` (:func:`robust_amplitude`), every file with
        the same channels.
    ch_names, ch_types : list of str
        The channels, in the order of the amplitude arrays.
    spec : QualitySpec
        ``max_amplitude_ratio``, ``max_channel_amplitude_ratio``, ``min_files_for_ratio``.

    Returns
    -------
    dict
        ``{file: [issue, ...]}`` for the flagged files only. An ``amplitude_ratio`` issue
        (the file's median ratio over its channels) names each channel with its amplitude
        and the dataset's median (``expected``); a ``channel_amplitude_ratio`` issue names
        one channel. Empty when there are fewer than ``min_files_for_ratio`` recordings.
    """
    files = [f for f, a in amplitudes.items() if np.isfinite(a).all()]
    if len(files) < spec.min_files_for_ratio:
        if amplitudes:
            logger.info("relative amplitude check skipped: %d recording(s) with windows, fewer "
                        "than quality.min_files_for_ratio (%d)", len(files),
                        spec.min_files_for_ratio)
        return {}
    table = np.array([amplitudes[f] for f in files])
    reference = np.median(table, axis=0)
    ratio = table / np.where(reference > 0, reference, np.nan)
    unit = [UNIT_NAME.get(t, "") for t in ch_types]
    out: dict[str, list[dict[str, Any]]] = {}
    for i, file in enumerate(files):
        issues = []
        file_ratio = float(np.nanmedian(ratio[i]))
        limit = spec.max_amplitude_ratio
        if not 1.0 / limit <= file_ratio <= limit:
            found = ", ".join(f"{c} {table[i, j]:.3g} vs {reference[j]:.3g} {unit[j]}"
                              for j, c in enumerate(ch_names))
            issues.append({
                "channel": ",".join(ch_names), "type": "/".join(sorted(set(ch_types))),
                "check": "amplitude_ratio", "value": round(file_ratio, 3), "threshold": limit,
                "expected": (f"its channels' robust amplitude is {file_ratio:.3g} x the "
                             f"dataset's median over {len(files)} recordings, outside "
                             f"[1/{limit:g}, {limit:g}] (found vs expected: {found})")})
        limit = spec.max_channel_amplitude_ratio
        for j, c in enumerate(ch_names):
            r = float(ratio[i, j])
            if np.isfinite(r) and not 1.0 / limit <= r <= limit:
                issues.append({
                    "channel": c, "type": ch_types[j], "check": "channel_amplitude_ratio",
                    "value": round(r, 4), "threshold": limit,
                    "expected": (f"robust amplitude {table[i, j]:.3g} {unit[j]}, expected "
                                 f"about {reference[j]:.3g} {unit[j]} (the channel's median "
                                 f"over {len(files)} recordings), outside x[1/{limit:g}, "
                                 f"{limit:g}]")})
        if issues:
            out[file] = issues
    return out


def apply(recipe: Recipe, amplitudes: dict[str, np.ndarray], info: dict[str, Any],
                        reports: list[dict[str, Any]]) -> set[str]:
    """Run the check on a dataset's recordings; return the files it leaves out.

    The recipe's ``quality.policy`` applies: ``error`` raises, ``warn`` keeps the file,
    ``drop_file`` and ``drop_channel`` (windows are already cut: nothing to interpolate)
    leave the file out. Issues are added to the files' quality reports.

    Raises
    ------
    RecipeError
        Under ``policy: error``, naming every flagged file, channel, found and expected value.
    """
    spec = QualitySpec.of(recipe)
    flagged = relative_amplitude_issues(amplitudes, info["ch_names"], info["ch_types"],
                                                spec)
    if not flagged:
        return set()
    by_file = {r["file"]: r for r in reports}
    text = "\n".join(f"  - {file}: " + "; ".join(describe(i) for i in issues)
                     for file, issues in sorted(flagged.items()))
    if spec.policy == "error":
        raise RecipeError(
            f"Dataset '{recipe.name}': relative amplitude check failed for {len(flagged)} of "
            f"{len(amplitudes)} recording(s) (a gain or unit error?):\n{text}\n(quality.policy "
            "'error'; fix or exclude the file, set quality.policy to 'warn' or 'drop_file', or "
            "adjust quality.max_amplitude_ratio / max_channel_amplitude_ratio.)")
    action = "kept (warn)" if spec.policy == "warn" else "dropped file"
    for file, issues in flagged.items():
        report = by_file.setdefault(file, {"file": file, "policy": spec.policy, "issues": [],
                                           "action": "none"})
        if report not in reports:
            reports.append(report)
        report["issues"] = list(report["issues"]) + issues
        report["action"] = action
    logger.warning("Dataset '%s': relative amplitude check (quality.policy '%s': %s):\n%s",
                   recipe.name, spec.policy, action, text)
    return set() if spec.policy == "warn" else set(flagged)
