"""A small synthetic EEG dataset that the real recipe machinery reads (in the spirit of MOABB's
``FakeDataset``): EDF recordings and a recipe YAML written into a temporary folder.

Each subject has two recordings, ``Subject<NN>_1.edf`` (rest) and ``Subject<NN>_2.edf`` (task),
labelled by the file's suffix as the eegmat recipe does. The classes are separable by band
power: rest has a strong 10 Hz rhythm over the posterior channels, the task a strong 6 Hz
rhythm over the frontal ones, on top of background noise; each subject has its own channel
gains, so subjects differ as real ones do. A covariance or spectral model is therefore far
above chance, while a model that ignores its input is not. Channels, sampling rate and window
length are those of the eegmat recipe after the default preprocessing (19 10-20 channels,
128 Hz, 5 s windows).
Unit tests use it instead of the real recordings in ``../shared/data``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import mne
import numpy as np
import yaml

#: 10-20 channels of the fake recordings.
CHANNELS = ["Fp1", "Fp2", "F3", "F4", "F7", "F8", "T7", "T8", "C3", "C4", "P7", "P8", "P3",
            "P4", "O1", "O2", "Fz", "Cz", "Pz"]
SFREQ = 128.0
#: Recording durations (s): five 5 s windows of rest, three of the task per subject.
DURATION_S = {"1": 25.0, "2": 15.0}
WINDOW_S = 5.0
CLASSES = {"1": "rest", "2": "task"}


@dataclass(frozen=True)
class FakeDataset:
    """Where the fake dataset lies: its data root and its recipe file."""

    data_root: Path
    recipe_path: Path
    subjects: tuple[str, ...]


def _signal(rng: np.random.Generator, run: str, n_samples: int,
            gains: np.ndarray) -> np.ndarray:
    """Volts, channels x samples: background noise plus the class's rhythm, times ``gains``."""
    t = np.arange(n_samples) / SFREQ
    data = rng.normal(0.0, 5e-6, (len(CHANNELS), n_samples))
    freq, channels = (10.0, ("P3", "P4", "O1", "O2")) if run == "1" else (6.0, ("F3", "F4"))
    for name in channels:
        phase = rng.uniform(0, 2 * np.pi)
        data[CHANNELS.index(name)] += 20e-6 * np.sin(2 * np.pi * freq * t + phase)
    return data * gains[:, None]


def write_fake_dataset(root: Path, n_subjects: int = 7, seed: int = 0) -> FakeDataset:
    """Write ``n_subjects`` subjects' EDF recordings and their recipe below ``root``.

    Returns the data root (``root/data``, holding the folder ``fake_eeg``) and the recipe path
    (``root/fake_eeg.yaml``), for :func:`eegbench.data.recipe.load_recipe` and
    :func:`eegbench.data.cache.load_windows`.
    """
    root = Path(root)
    folder = root / "data" / "fake_eeg"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    subjects = tuple(f"{i:02d}" for i in range(n_subjects))
    info = mne.create_info(CHANNELS, SFREQ, "eeg")
    for subject in subjects:
        gains = rng.uniform(0.5, 2.0, len(CHANNELS))
        for run, duration in DURATION_S.items():
            data = _signal(rng, run, int(duration * SFREQ), gains)
            raw = mne.io.RawArray(data, info, verbose=False)
            mne.export.export_raw(folder / f"Subject{subject}_{run}.edf", raw, fmt="edf",
                                  overwrite=True, verbose=False)
    recipe = {
        "name": "fake_eeg",
        "title": "Synthetic two-class EEG (unit tests)",
        "paradigm": "mental_workload",
        "primary_metric": "balanced_accuracy",
        "modality": "eeg",
        "sensor_types": ["eeg"],
        "licence": "CC0-1.0",
        "citation": "Synthetic recordings written by tests/fake_dataset.py.",
        "source": {"folder": "fake_eeg", "reader": "edf",
                   "pattern": r"Subject(?P<subject>\d+)_(?P<run>[12])\.edf",
                   "sha256": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                              for p in sorted(folder.glob("*.edf"))}},
        "labels": {"from": "run", "map": CLASSES, "classes": list(CLASSES.values())},
        "channels": {"pick": CHANNELS, "types": {"all": "eeg"}, "montage": "colin27_1020"},
        "sfreq": SFREQ,
        "windows": {"kind": "fixed", "length_s": WINDOW_S, "stride_s": WINDOW_S},
        "expected": {
            "n_channels_in_file": len(CHANNELS),
            "counts": [{"files": rf"Subject\d+_{run}\.edf",
                        "classes": {CLASSES[run]: int(duration // WINDOW_S)}}
                       for run, duration in DURATION_S.items()]},
    }
    recipe_path = root / "fake_eeg.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return FakeDataset(root / "data", recipe_path, subjects)
