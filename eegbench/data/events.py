"""Event-locked epoching: find a recording's events and cut windows around them.

The recipe's ``windows`` section with ``kind: events`` says where the events are::

    windows:
      kind: events
      events: {from: annotations}                      # EDF+/EEGLAB annotations
      # events: {from: stim_channel, channel: STI101}  # trigger channel (MEG, Muse marker)
      # events: {from: eve_file, companion: events}    # MNE -eve.fif next to the recording
      tmin: 2.0          # window start, seconds relative to the event onset
      tmax: 4.0          # window end (exclusive): n_times = round((tmax - tmin) * sfreq)

and ``labels.map`` maps event codes (annotation descriptions or integer trigger values, as
strings) to class names; other codes are ignored.
"""

from __future__ import annotations

import logging

import mne
import numpy as np
import pandas as pd

from eegbench.data.recipe import Recipe, RecipeError, SourceFile
from eegbench.data.recipe_schema import EventsSpec

logger = logging.getLogger(__name__)

EVENT_SOURCES = ("annotations", "stim_channel", "eve_file")


def _label_map(recipe: Recipe) -> dict[str, str]:
    return {str(k): str(v) for k, v in recipe.model.labels.map.items()}


def _raw_events(raw: mne.io.BaseRaw, recipe: Recipe, source: SourceFile,
                spec: EventsSpec | None) -> tuple[np.ndarray, list[str]]:
    """Return (sample indices relative to the first sample, event codes as strings)."""
    kind = None if spec is None else spec.from_
    mapping = _label_map(recipe)
    if kind == "annotations":
        wanted = {desc: i + 1 for i, desc in enumerate(sorted(mapping))}
        present = set(raw.annotations.description)
        if not present & set(wanted):
            return np.empty(0, dtype=int), []
        events, ids = mne.events_from_annotations(
            raw, event_id={k: v for k, v in wanted.items() if k in present}, verbose="error")
        inverse = {v: k for k, v in ids.items()}
        codes = [inverse[c] for c in events[:, 2]]
    elif kind == "stim_channel":
        channel = spec.channel
        if channel not in raw.ch_names:
            raise RecipeError(f"{source.path}: stim channel {channel!r} named by recipe "
                              f"'{recipe.name}' is missing; the file has {raw.ch_names}.")
        crop = recipe.crop_of(source)
        # a trigger already high at the first sample is an event, unless a crop cut into it
        initial = crop is None or crop["tmin"] == 0
        events = mne.find_events(raw, stim_channel=channel, shortest_event=1,
                                 consecutive=(spec.consecutive if "consecutive" in
                                              spec.model_fields_set else True),
                                 initial_event=initial, verbose="error")
        codes = [str(int(c)) for c in events[:, 2]]
    elif kind == "eve_file":
        comp = source.companion(spec.companion or "events")
        try:
            events = mne.read_events(comp.path, verbose="error")
        except Exception as err:
            from eegbench.data.readers import safe_message

            raise RecipeError(f"Could not read events file {comp.path}: {type(err).__name__}: "
                              f"{safe_message(err)}. It may be truncated or corrupt.") from err
        codes = [str(int(c)) for c in events[:, 2]]
    else:
        raise RecipeError(f"Invalid value for the 'windows.events.from' parameter of recipe "
                          f"'{recipe.name}'. Allowed values are {list(EVENT_SOURCES)}, but got "
                          f"{kind!r}.")
    return events[:, 0] - raw.first_samp, codes


def find_labelled_events(raw: mne.io.BaseRaw, recipe: Recipe,
                         source: SourceFile) -> pd.DataFrame:
    """Return the events whose code is in ``labels.map``, in time order.

    Call this on the recording as read (before channel selection, which drops stim channels).

    Returns
    -------
    DataFrame
        Columns ``onset_s`` (seconds from the first sample), ``code`` and ``label_name``.

    Raises
    ------
    RecipeError
        If the recording holds no event of the recipe's label map, or an event lies outside
        the recording.
    """
    spec = recipe.model.windows.events
    samples, codes = _raw_events(raw, recipe, source, spec)
    mapping = _label_map(recipe)
    sfreq = raw.info["sfreq"]
    rows = [
        {"onset_s": s / sfreq, "code": c, "label_name": mapping[c]}
        for s, c in zip(samples, codes, strict=True) if c in mapping
    ]
    if not rows:
        found = sorted(set(codes))
        origin = None if spec is None else spec.from_
        raise RecipeError(f"{source.path}: no event with a code in labels.map "
                          f"{sorted(mapping)} of recipe '{recipe.name}' (events from "
                          f"{origin!r}); found codes {found or 'none'}.")
    frame = pd.DataFrame(rows).sort_values("onset_s", kind="stable").reset_index(drop=True)
    outside = frame[(frame["onset_s"] < 0) | (frame["onset_s"] > raw.n_times / sfreq)]
    if len(outside) and recipe.crop_of(source) is not None:  # events of the part cut away
        logger.info("%s: %d event(s) outside the part kept by the recipe's crop are left out",
                    source.relpath, len(outside))
        frame = frame.drop(outside.index).reset_index(drop=True)
        outside = frame.iloc[:0]
        if not len(frame):
            raise RecipeError(f"{source.path}: no event with a code in labels.map lies in the "
                              f"part kept by the recipe's crop {recipe.crop_of(source)}.")
    if len(outside):
        raise RecipeError(f"{source.path}: {len(outside)} event(s) lie outside the recording "
                          f"(0 to {raw.n_times / sfreq:.1f} s), first at "
                          f"{outside['onset_s'].iloc[0]:.3f} s: events and data do not match.")
    return frame


def epoch_windows(data: np.ndarray, sfreq: float, onsets_s: np.ndarray, tmin: float,
                  tmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut one window per event from ``data`` (channels, times).

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_times)
        The continuous recording, already filtered and resampled to ``sfreq``.
    sfreq : float
        Sampling rate of ``data``.
    onsets_s : ndarray
        Event onsets in seconds from the first sample.
    tmin, tmax : float
        Window bounds relative to each onset (``tmax`` exclusive).

    Returns
    -------
    windows : ndarray, shape (n_kept, n_channels, n_times)
    keep : ndarray of bool, shape (n_events,)
        False for events whose window would cross the recording's edges (dropped).
    """
    if tmax <= tmin:
        raise RecipeError(f"Invalid window: tmax ({tmax}) must be greater than tmin ({tmin}).")
    n_len = int(round((tmax - tmin) * sfreq))
    starts = np.round((np.asarray(onsets_s, dtype=float) + tmin) * sfreq).astype(int)
    keep = (starts >= 0) & (starts + n_len <= data.shape[1])
    windows = np.empty((int(keep.sum()), data.shape[0], n_len), dtype=np.float32)
    for i, s in enumerate(starts[keep]):
        windows[i] = data[:, s : s + n_len]
    return windows, keep
