"""Realistic preprocessing settings for each shared dataset, and loaders for its recordings.

Used by the equivalence tests and by ``benchmarks/preprocess_speed.py`` so that both run the
same recordings with the same parameters through the fused and the MNE pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import mne
import numpy as np
import pandas as pd

from eegbench.preprocess.params import FilterParams, Recording, reference_indices

#: Stored units per channel type: EEG in microvolts, magnetometers in fT, gradiometers in fT/cm.
SCALE = {"eeg": 1e6, "mag": 1e15, "grad": 1e13}

#: Muse headband CSVs hold microvolts at 256 Hz (data README).
MUSE_SFREQ = 256.0
MUSE_EEG = ("TP9", "AF7", "AF8", "TP10")


@dataclass(frozen=True)
class Case:
    """One shared dataset with the settings a benchmark user would pick for it.

    Attributes
    ----------
    name : str
        The folder under the data root.
    pattern : str
        Glob of the recordings, relative to that folder (sorted, first ``max_files`` used).
    params : FilterParams
        Output rate, band-pass and notch.
    reference : str | None
        ``"average"``, a channel name or ``None``.
    reader : "mne" | "muse_csv"
        How a file becomes an :class:`mne.io.Raw`.
    drop : tuple of str
        Channels removed before processing (non-EEG leads).
    """

    name: str
    pattern: str
    params: FilterParams
    reference: str | None = None
    reader: str = "mne"
    drop: tuple[str, ...] = field(default_factory=tuple)


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case("physionet_eegmat", "Subject*_*.edf", FilterParams(128.0, 0.5, 45.0, 50.0),
             "average", drop=("EEG A2-A1", "ECG ECG")),
        Case("ssvep_exo_kalunga2016", "subject*/*_raw.fif", FilterParams(128.0, 1.0, 40.0, 50.0)),
        Case("physionet_eegmmidb", "S001/S001R*.edf", FilterParams(128.0, 0.5, 40.0, 60.0),
             "average"),
        Case("eeglab_tutorial_mnetesting", "test_raw.set", FilterParams(128.0, 1.0, 40.0, None),
             "average"),
        Case("meg_elekta_3ch_mnetesting", "test_elekta_3ch_raw.fif",
             FilterParams(250.0, 1.0, 100.0, (50.0, 100.0))),
        Case("muse_visual_p300_eegnotebooks", "subject*/session*/*.csv",
             FilterParams(128.0, 1.0, 30.0, 60.0), reader="muse_csv"),
    )
}


def read_muse_csv(path: Path) -> mne.io.RawArray:
    """Read a Muse headband CSV (eeg-notebooks) into a RawArray in volts.

    Raises
    ------
    ValueError
        If a Muse EEG column is missing or holds non-finite values.
    """
    table = pd.read_csv(path)
    missing = [c for c in MUSE_EEG if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: Muse EEG column(s) {missing} missing; found {list(table)}.")
    data = table[list(MUSE_EEG)].to_numpy(dtype=np.float64).T * 1e-6  # uV -> V
    if not np.isfinite(data).all():
        raise ValueError(f"{path}: non-finite samples in the EEG columns.")
    info = mne.create_info(list(MUSE_EEG), MUSE_SFREQ, "eeg")
    return mne.io.RawArray(data, info, verbose="error")


def case_files(case: Case, data_root: Path, max_files: int | None = None) -> list[Path]:
    """Sorted files of ``case`` under ``data_root`` (at most ``max_files``).

    Raises
    ------
    FileNotFoundError
        If no file matches.
    """
    folder = Path(data_root) / case.name
    files = sorted(folder.glob(case.pattern))
    if not files:
        raise FileNotFoundError(f"No file matches {case.pattern!r} in {folder}.")
    return files[:max_files]


def load_raw(case: Case, path: Path) -> mne.io.BaseRaw:
    """Read one file of ``case`` with only its data channels kept, fully loaded."""
    if case.reader == "muse_csv":
        raw = read_muse_csv(path)
    else:
        raw = mne.io.read_raw(path, preload=True, verbose="error")
    raw.pick("data", exclude=())
    if case.drop:
        raw.drop_channels([c for c in case.drop if c in raw.ch_names])
    return raw


def to_recording(raw: mne.io.BaseRaw, reference: str | None, name: str = "raw") -> Recording:
    """Wrap a loaded Raw as a :class:`Recording` with reference indices and unit scales."""
    types = raw.get_channel_types()
    ref_from, ref_to = reference_indices(raw.ch_names, types, reference, raw.info["bads"])
    scale = np.array([SCALE.get(t, 1.0) for t in types])
    return Recording(raw.get_data(), raw.info["sfreq"], ref_from, ref_to, scale, name=name)


def load_case(case: Case, data_root: Path, max_files: int | None = None) -> list[Recording]:
    """Read up to ``max_files`` recordings of ``case`` as :class:`Recording` objects."""
    return [to_recording(load_raw(case, f), case.reference, name=str(f))
            for f in case_files(case, data_root, max_files)]
