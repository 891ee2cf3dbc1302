"""Every real recording loads through its recipe with the right windows, labels and units.

Window counts are recomputed here independently of eegbench (MNE / pandas on the raw files):
an event counts when its whole window fits inside the recording.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest

from eegbench.data.cache import load_windows
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec

ALL_RECIPES = [
    "physionet_eegmat",
    "ssvep_exo_kalunga2016",
    "muse_visual_p300_eegnotebooks",
    "physionet_eegmmidb_imagery_lr",
    "physionet_eegmmidb_executed_lr",
    "physionet_eegmmidb_imagery_fists_feet",
    "physionet_eegmmidb_executed_fists_feet",
    "eeglab_tutorial",
    "meg_elekta_3ch",
]


def _fits(onset: float, tmin: float, tmax: float, duration: float) -> bool:
    return onset + tmin >= 0 and onset + tmax <= duration


def _count_eegmat(folder: Path) -> Counter:
    counts: Counter = Counter()
    for path in sorted(folder.glob("Subject*_[12].edf")):
        raw = mne.io.read_raw_edf(path, verbose="error")
        subject, run = path.stem[len("Subject"):].split("_")
        n = int((raw.n_times / raw.info["sfreq"] - 5.0) // 5.0) + 1
        counts[(subject, "rest" if run == "1" else "arithmetic")] += n
    return counts


def _count_ssvep(folder: Path) -> Counter:
    names = {1: "rest", 2: "13Hz", 3: "21Hz", 4: "17Hz"}
    counts: Counter = Counter()
    for eve in sorted(folder.glob("subject*/*-eve.fif")):
        raw = mne.io.read_raw_fif(str(eve).replace("-eve.fif", "_raw.fif"), verbose="error")
        duration = raw.n_times / raw.info["sfreq"]
        for sample, _, code in mne.read_events(eve):
            if _fits((sample - raw.first_samp) / raw.info["sfreq"], 2.0, 4.0, duration):
                counts[(eve.parent.name[len("subject"):], names[code])] += 1
    return counts


def _count_muse(folder: Path) -> Counter:
    counts: Counter = Counter()
    for path in sorted(folder.glob("subject*/session*/*.csv")):
        frame = pd.read_csv(path)
        marker = frame["Marker"] if "Marker" in frame else frame["Marker0"]
        duration = len(frame) / 256.0
        for row in np.flatnonzero(marker.to_numpy() > 0):
            if _fits(row / 256.0, -0.1, 0.8, duration):
                label = {1: "non_target", 2: "target"}[int(marker.iloc[row])]
                counts[(path.parts[-3][len("subject"):], label)] += 1
    return counts


def _count_annotations(paths: list[Path], mapping: dict[str, str], tmin: float, tmax: float,
                       subject: str, reader) -> Counter:
    counts: Counter = Counter()
    for path in paths:
        raw = reader(path, verbose="error")
        duration = raw.n_times / raw.info["sfreq"]
        for onset, desc in zip(raw.annotations.onset, raw.annotations.description, strict=True):
            if desc in mapping and _fits(onset, tmin, tmax, duration):
                counts[(subject, mapping[desc])] += 1
    return counts


def _count_eegmmidb(folder: Path, runs: tuple[int, ...], t1: str, t2: str) -> Counter:
    paths = [folder / "S001" / f"S001R{r:02d}.edf" for r in runs]
    return _count_annotations(paths, {"T1": t1, "T2": t2}, 0.0, 3.0, "001",
                              mne.io.read_raw_edf)


def _count_meg(folder: Path) -> Counter:
    raw = mne.io.read_raw_fif(folder / "test_elekta_3ch_raw.fif", verbose="error")
    events = mne.find_events(raw, "STI101", shortest_event=1, verbose="error")
    duration = raw.n_times / raw.info["sfreq"]
    return Counter(
        ("1", f"trigger_{code}") for sample, _, code in events
        if _fits((sample - raw.first_samp) / raw.info["sfreq"], -0.1, 0.4, duration)
    )


INDEPENDENT = {
    "physionet_eegmat": lambda root: _count_eegmat(root / "physionet_eegmat"),
    "ssvep_exo_kalunga2016": lambda root: _count_ssvep(root / "ssvep_exo_kalunga2016"),
    "muse_visual_p300_eegnotebooks": lambda root: _count_muse(
        root / "muse_visual_p300_eegnotebooks"),
    "physionet_eegmmidb_imagery_lr": lambda root: _count_eegmmidb(
        root / "physionet_eegmmidb", (4, 8, 12), "left_fist", "right_fist"),
    "physionet_eegmmidb_executed_lr": lambda root: _count_eegmmidb(
        root / "physionet_eegmmidb", (3, 7, 11), "left_fist", "right_fist"),
    "physionet_eegmmidb_imagery_fists_feet": lambda root: _count_eegmmidb(
        root / "physionet_eegmmidb", (6, 10, 14), "both_fists", "both_feet"),
    "physionet_eegmmidb_executed_fists_feet": lambda root: _count_eegmmidb(
        root / "physionet_eegmmidb", (5, 9, 13), "both_fists", "both_feet"),
    "eeglab_tutorial": lambda root: _count_annotations(
        [root / "eeglab_tutorial_mnetesting" / "test_raw.set"], {"square": "square", "rt": "rt"},
        -0.2, 0.8, "1", mne.io.read_raw_eeglab),
    "meg_elekta_3ch": lambda root: _count_meg(root / "meg_elekta_3ch_mnetesting"),
}


@pytest.fixture(scope="module")
def loaded(data_root, cache_root):
    cache: dict = {}

    def _load(name: str):
        if name not in cache:
            cache[name] = load_windows(load_recipe(name), data_root, PreprocessSpec(), cache_root)
        return cache[name]

    return _load


@pytest.mark.parametrize("name", ALL_RECIPES)
def test_counts_per_subject_and_label_match_the_recordings(name, loaded, data_root):
    ds = loaded(name)
    got = Counter(zip(ds.meta["subject"], ds.meta["label_name"], strict=True))
    assert got == INDEPENDENT[name](data_root)
    assert len(ds.X) == len(ds.meta) == sum(got.values())
    assert list(ds.meta["label"]) == [ds.classes.index(n) for n in ds.meta["label_name"]]
    assert isinstance(ds.X, np.memmap) or isinstance(getattr(ds.X, "base", None), np.memmap)
    assert np.isfinite(ds.X[:50]).all()


@pytest.mark.parametrize("name", ["ssvep_exo_kalunga2016", "meg_elekta_3ch"])
def test_event_onsets_match_the_events_file(name, loaded, data_root):
    """The stored onsets are the events' own times (not shifted by first_samp or resampling)."""
    meta = loaded(name).meta
    if name == "meg_elekta_3ch":
        raw = mne.io.read_raw_fif(data_root / "meg_elekta_3ch_mnetesting" /
                                  "test_elekta_3ch_raw.fif", verbose="error")
        events = mne.find_events(raw, "STI101", shortest_event=1, verbose="error")
        onsets = (events[:, 0] - raw.first_samp) / raw.info["sfreq"]
        expected = onsets[onsets + 0.4 <= raw.n_times / raw.info["sfreq"]]
    else:
        eve = next((data_root / name / "subject01").glob("*-eve.fif"))
        expected = mne.read_events(eve)[:, 0] / 256.0
        meta = meta[meta["subject"] == "01"]
    np.testing.assert_allclose(np.sort(meta["onset_s"].to_numpy()), np.sort(expected),
                               atol=1e-6)


def test_meg_keeps_sensor_types_units_and_geometry(loaded, data_root):
    ds = loaded("meg_elekta_3ch")
    assert ds.info["ch_names"] == ["MEG0111", "MEG2643", "MEG1622"]
    assert ds.info["ch_types"] == ["mag", "grad", "grad"]
    assert ds.info["units"] == {"mag": "fT", "grad": "fT/cm"}
    assert ds.info["modality"] == "meg"
    raw = mne.io.read_raw_fif(data_root / "meg_elekta_3ch_mnetesting" / "test_elekta_3ch_raw.fif",
                              verbose="error")
    for ch in raw.info["chs"][:3]:
        np.testing.assert_allclose(ds.info["ch_loc"][ch["ch_name"]], ch["loc"], atol=1e-7)
    # Physiological MEG amplitudes: magnetometer ~ 10-10^4 fT, gradiometer ~ 1-10^4 fT/cm.
    std = np.asarray(ds.X).std(axis=(0, 2))
    assert 10 < std[0] < 1e4 and all(1 < s < 1e4 for s in std[1:])


@pytest.mark.parametrize("name", ["physionet_eegmat", "ssvep_exo_kalunga2016",
                                  "muse_visual_p300_eegnotebooks",
                                  "physionet_eegmmidb_imagery_lr"])
def test_eeg_in_microvolts_with_positions(name, loaded):
    ds = loaded(name)
    assert ds.info["units"] == {"eeg": "uV"}
    std = np.asarray(ds.X[:100]).std(axis=(0, 2))
    assert np.all((std > 0.5) & (std < 500)), std  # scalp EEG after 0.5-45 Hz: a few-100 uV
    pos = np.array([ds.info["ch_pos"][c] for c in ds.info["ch_names"]])
    assert np.isfinite(pos).all() and np.all(np.linalg.norm(pos, axis=1) > 0.05)


def test_ssvep_labels_carry_the_stimulation_frequency(loaded):
    """Each SSVEP class has more power at its own frequency than the other classes do."""
    from scipy.signal import welch

    ds = loaded("ssvep_exo_kalunga2016")
    freqs, psd = welch(np.asarray(ds.X), fs=ds.info["sfreq"], nperseg=256, axis=-1)
    logp = np.log(psd.mean(axis=1))
    for cls, hz in (("13Hz", 13), ("17Hz", 17), ("21Hz", 21)):
        k = int(np.argmin(abs(freqs - hz)))
        own = logp[(ds.meta["label_name"] == cls).to_numpy(), k].mean()
        others = logp[(ds.meta["label_name"] != cls).to_numpy(), k].mean()
        assert own > others + 0.2
