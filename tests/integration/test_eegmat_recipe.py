"""The eegmat recipe on the real PhysioNet files: subjects, windows, labels, units, cache."""

from __future__ import annotations

import mne
import numpy as np
import pytest

from eegbench.data.cache import load_windows
from eegbench.data.recipe import RecipeError, load_recipe
from eegbench.data.standardize import PreprocessSpec


def test_every_subject_and_both_conditions(eegmat, data_root):
    files = sorted((data_root / "physionet_eegmat").glob("Subject*_?.edf"))
    subjects = sorted({f.name[7:9] for f in files})
    assert sorted(eegmat.meta["subject"].unique()) == subjects
    counts = eegmat.meta.groupby(["subject", "label_name"]).size()
    # window count per file = floor(duration / 5 s), computed from the EDF header itself
    for f in files:
        raw = mne.io.read_raw_edf(f, preload=False, verbose="error")
        expected = int(raw.n_times / raw.info["sfreq"] // 5.0)
        label = "rest" if f.stem.endswith("_1") else "arithmetic"
        assert counts[(f.name[7:9], label)] == expected, f.name
    assert set(eegmat.meta["label_name"]) == {"rest", "arithmetic"}
    assert eegmat.classes == ["rest", "arithmetic"]
    assert (eegmat.y == (eegmat.meta["label_name"] == "arithmetic")).all()


def test_windows_shape_channels_and_units(eegmat):
    assert eegmat.X.shape[1:] == (19, 640)  # 19 EEG channels, 5 s at 128 Hz
    assert eegmat.X.dtype == np.float32
    assert "ECG" not in " ".join(eegmat.info["ch_names"])
    assert "A2-A1" not in eegmat.info["ch_names"]
    assert eegmat.info["ch_names"][:2] == ["Fp1", "Fp2"] and "T7" in eegmat.info["ch_names"]
    assert eegmat.info["units"] == {"eeg": "uV"}
    rms = float(np.sqrt(np.mean(np.square(eegmat.X[:50]))))
    assert 1.0 < rms < 200.0, f"EEG RMS {rms} is not in microvolts"
    assert all(np.linalg.norm(p) > 0 for p in eegmat.info["ch_pos"].values())


def test_window_matches_mne_reference(eegmat, data_root):
    """The first cached window equals MNE's own filter + resample of the same file."""
    raw = mne.io.read_raw_edf(data_root / "physionet_eegmat" / "Subject00_1.edf", preload=True,
                              verbose="error")
    raw.rename_channels({"EEG Fp1": "Fp1"}).pick(["Fp1"])
    raw.filter(0.5, 45.0, verbose="error").resample(128.0, verbose="error")
    first = np.flatnonzero((eegmat.meta["subject"] == "00") & (eegmat.meta["run"] == "1"))[0]
    np.testing.assert_allclose(eegmat.X[first, 0], raw.get_data()[0, :640] * 1e6, rtol=1e-4,
                               atol=1e-3)


def test_second_load_hits_the_cache(eegmat, data_root, cache_root, monkeypatch):
    from eegbench.data import batched

    def _fail(*args, **kwargs):
        raise AssertionError("the EDF files were read again")

    monkeypatch.setattr(batched, "read_recording", _fail)  # where the cache build reads files
    again = load_windows(load_recipe("physionet_eegmat"), data_root, PreprocessSpec(), cache_root)
    assert isinstance(again.X, np.memmap)
    assert again.X.shape == eegmat.X.shape


def test_checksum_mismatch_is_an_error(data_root, tmp_path):
    folder = tmp_path / "physionet_eegmat"
    folder.mkdir()
    src = (data_root / "physionet_eegmat" / "Subject00_2.edf").read_bytes()
    corrupted = bytearray(src)
    corrupted[-100] ^= 0xFF
    (folder / "Subject00_2.edf").write_bytes(bytes(corrupted))
    with pytest.raises(RecipeError, match="Checksum mismatch.*Subject00_2.edf"):
        load_windows(load_recipe("physionet_eegmat"), tmp_path, PreprocessSpec(),
                     tmp_path / "cache")


def test_missing_data_root_says_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="EEGBENCH_DATA_ROOT"):
        load_windows(load_recipe("physionet_eegmat"), tmp_path / "nowhere", PreprocessSpec(),
                     tmp_path / "cache")
