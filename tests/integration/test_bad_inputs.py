"""Bad input never yields a silent wrong window: each case is derived from a real recording
(copied into tmp_path, then truncated / corrupted / edited) and must raise a specific error."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest

from eegbench.data.cache import load_windows
from eegbench.data.recipe import Recipe, RecipeError, load_recipe
from eegbench.data.standardize import PreprocessSpec

SSVEP = "ssvep_exo_kalunga2016"
MUSE = "muse_visual_p300_eegnotebooks"
EEGMAT = "physionet_eegmat"
SSVEP_REC = "subject01/record-[2012.07.06-19.02.16]"
MUSE_CSV = "subject1/session1/data_2017-02-04-15_47_49.csv"


def _recipe(name: str, *, pinned: bool = True, pattern: str | None = None) -> Recipe:
    """A built-in recipe, optionally without checksums (to reach the reader on edited files)."""
    base = load_recipe(name)
    raw = copy.deepcopy(base.raw)
    if not pinned:
        raw["source"].pop("sha256", None)
    if pattern is not None:
        raw["source"]["pattern"] = pattern
    return Recipe(name=name, raw=raw, path=base.path)


def _copy(data_root: Path, tmp_path: Path, folder: str, *relpaths: str) -> Path:
    for rel in relpaths:
        dst = tmp_path / "data" / folder / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data_root / folder / rel, dst)
        dst.chmod(0o644)
    return tmp_path / "data" / folder


def _load(recipe: Recipe, tmp_path: Path):
    return load_windows(recipe, tmp_path / "data", PreprocessSpec(), tmp_path / "cache")


# -- SSVEP (FIF + -eve.fif) ---------------------------------------------------------------------
@pytest.fixture
def ssvep_copy(data_root, tmp_path):
    return _copy(data_root, tmp_path, SSVEP, f"{SSVEP_REC}_raw.fif", f"{SSVEP_REC}-eve.fif")


def test_checksum_mismatch_names_file_expected_and_found(ssvep_copy, tmp_path):
    path = ssvep_copy / f"{SSVEP_REC}_raw.fif"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte inside the samples: still a readable file
    path.write_bytes(bytes(data))
    with pytest.raises(RecipeError, match=r"Checksum mismatch for .*_raw\.fif: expected sha256 "
                       r"fd740f19.*, got [0-9a-f]{64}"):
        _load(_recipe(SSVEP), tmp_path)


def test_checksum_mismatch_of_a_companion_events_file(ssvep_copy, tmp_path):
    path = ssvep_copy / f"{SSVEP_REC}-eve.fif"
    path.write_bytes(path.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(RecipeError, match=r"Checksum mismatch for .*-eve\.fif"):
        _load(_recipe(SSVEP), tmp_path)


def test_truncated_fif(ssvep_copy, tmp_path):
    path = ssvep_copy / f"{SSVEP_REC}_raw.fif"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(RecipeError, match=r"_raw\.fif.*(truncated|corrupt)"):
        _load(_recipe(SSVEP, pinned=False), tmp_path)


def _rewrite_fif(path: Path, edit) -> None:
    raw = mne.io.read_raw_fif(path, preload=True, verbose="error")
    raw = edit(raw)
    path.unlink()
    raw.save(path, fmt="double", verbose="error")


def test_nan_samples_in_fif(ssvep_copy, tmp_path):
    def inject(raw):
        raw._data[2, 5000:5010] = np.nan
        return raw

    _rewrite_fif(ssvep_copy / f"{SSVEP_REC}_raw.fif", inject)
    with pytest.raises(RecipeError, match=r"_raw\.fif: 10 non-finite \(NaN/Inf\) sample\(s\), "
                       r"first in channel 'O2' at 19\.531 s"):
        _load(_recipe(SSVEP, pinned=False), tmp_path)


def test_inf_samples_in_fif(ssvep_copy, tmp_path):
    def inject(raw):
        raw._data[0, 100] = np.inf
        return raw

    _rewrite_fif(ssvep_copy / f"{SSVEP_REC}_raw.fif", inject)
    with pytest.raises(RecipeError, match=r"1 non-finite .* channel 'Oz'"):
        _load(_recipe(SSVEP, pinned=False), tmp_path)


def test_missing_channel_in_fif(ssvep_copy, tmp_path):
    _rewrite_fif(ssvep_copy / f"{SSVEP_REC}_raw.fif", lambda raw: raw.drop_channels(["PO7"]))
    with pytest.raises(RecipeError, match=r"channel\(s\) \['PO7'\] required by recipe "
                       r"'ssvep_exo_kalunga2016' are missing"):
        _load(_recipe(SSVEP, pinned=False), tmp_path)


def test_sampling_rate_different_from_declared(ssvep_copy, tmp_path):
    _rewrite_fif(ssvep_copy / f"{SSVEP_REC}_raw.fif",
                 lambda raw: raw.resample(128.0, verbose="error"))
    with pytest.raises(RecipeError, match=r"sampling rate is 128\.0 Hz but recipe "
                       r"'ssvep_exo_kalunga2016' declares 256\.0 Hz"):
        _load(_recipe(SSVEP, pinned=False), tmp_path)


def test_flat_channel_in_fif(ssvep_copy, tmp_path):
    def flatten(raw):
        raw._data[4] = 0.0
        return raw

    _rewrite_fif(ssvep_copy / f"{SSVEP_REC}_raw.fif", flatten)
    with pytest.raises(RecipeError, match=r"flat \(constant\) channel\(s\) \['POz'\]"):
        _load(_recipe(SSVEP, pinned=False), tmp_path)


def test_events_file_with_a_missing_trial_fails_the_expected_counts(ssvep_copy, tmp_path):
    eve = ssvep_copy / f"{SSVEP_REC}-eve.fif"
    events = mne.read_events(eve)
    mne.write_events(eve, events[1:], overwrite=True, verbose="error")  # drop one rest trial
    with pytest.raises(RecipeError, match=r"windows per class .*'rest': 7.* do not match "
                       r"recipe 'ssvep_exo_kalunga2016' expected\.counts"):
        _load(_recipe(SSVEP, pinned=False), tmp_path)


def test_events_file_without_labelled_events(ssvep_copy, tmp_path):
    eve = ssvep_copy / f"{SSVEP_REC}-eve.fif"
    events = mne.read_events(eve)
    events[:, 2] = 99
    mne.write_events(eve, events, overwrite=True, verbose="error")
    with pytest.raises(RecipeError, match=r"no event with a code in labels\.map .* found codes "
                       r"\['99'\]"):
        _load(_recipe(SSVEP, pinned=False), tmp_path)


def test_missing_companion_events_file(ssvep_copy, tmp_path):
    (ssvep_copy / f"{SSVEP_REC}-eve.fif").unlink()
    with pytest.raises(FileNotFoundError, match=r"companion file .*-eve\.fif \(events\) is "
                       "missing"):
        _load(_recipe(SSVEP), tmp_path)


# -- Muse CSV -------------------------------------------------------------------------------------
@pytest.fixture
def muse_csv(data_root, tmp_path):
    return _copy(data_root, tmp_path, MUSE, MUSE_CSV) / MUSE_CSV


def _muse_recipe() -> Recipe:
    return _recipe(MUSE, pinned=False)


def test_truncated_csv_mid_row(muse_csv, tmp_path):
    text = muse_csv.read_text()
    muse_csv.write_text(text[: len(text) // 2].rsplit(",", 3)[0])  # cut inside the last row
    with pytest.raises(RecipeError, match=r"data_2017-02-04-15_47_49\.csv: .*non-finite"):
        _load(_muse_recipe(), tmp_path)


def test_corrupt_bytes_in_csv(muse_csv, tmp_path):
    lines = muse_csv.read_text().splitlines()
    lines[5000] = lines[5000].replace(",", ",\x00\x13garbage", 1)
    muse_csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(RecipeError, match=r"non-numeric value in column 'TP9' at data row 5000 "):
        _load(_muse_recipe(), tmp_path)


def _set_nan(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[1234, "AF8"] = np.nan
    return frame


def _flatten_tp10(frame: pd.DataFrame) -> pd.DataFrame:
    frame["TP10"] = 0.0
    return frame


def _timestamps_at_250_hz(frame: pd.DataFrame) -> pd.DataFrame:
    frame["timestamps"] = frame["timestamps"].iloc[0] + np.arange(len(frame)) / 250.0
    return frame


def _drop_156_ms(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(index=range(10000, 10040)).reset_index(drop=True)


def _no_markers(frame: pd.DataFrame) -> pd.DataFrame:
    frame["Marker"] = 0
    return frame


@pytest.mark.parametrize(("corrupt", "message"), [
    (_set_nan, r"1 non-finite .* first in channel 'AF8' at 4\.820 s"),
    (_flatten_tp10, r"flat \(constant\) channel\(s\) \['TP10'\]"),
    (_timestamps_at_250_hz, r"estimated from the timestamps \(linear fit over \d+ rows\) is "
                            r"250\.000 Hz but the recipe declares 256\.0 Hz"),
    (_drop_156_ms, r"timestamp gap at data row 1000\d \(39\.\d+ s into the file\): about 40 "
                   r"sample\(s\) \(0\.15\d s\) were dropped"),
    (_no_markers, r"no event with a code in labels\.map \['1', '2'\] .* found codes none"),
], ids=["nan", "flat_channel", "wrong_sampling_rate", "dropped_samples", "no_events"])
def test_corrupted_csv_is_a_clear_error(muse_csv, tmp_path, corrupt, message):
    corrupt(pd.read_csv(muse_csv)).to_csv(muse_csv, index=False)
    with pytest.raises(RecipeError, match=message):
        _load(_muse_recipe(), tmp_path)


def test_missing_column_in_csv(muse_csv, tmp_path):
    pd.read_csv(muse_csv).drop(columns=["AF7"]).to_csv(muse_csv, index=False)
    with pytest.raises(RecipeError, match=r"column\(s\) \['AF7'\] required by recipe "
                       r"'muse_visual_p300_eegnotebooks' are missing"):
        _load(_muse_recipe(), tmp_path)


def test_truncated_edf(data_root, tmp_path):
    folder = _copy(data_root, tmp_path, EEGMAT, "Subject00_2.edf")
    path = folder / "Subject00_2.edf"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RecipeError, match=r"Subject00_2\.edf: .*(duration|truncated|corrupt)"):
        _load(_recipe(EEGMAT, pinned=False), tmp_path)


def test_corrupt_edf_header(data_root, tmp_path):
    folder = _copy(data_root, tmp_path, EEGMAT, "Subject00_2.edf")
    path = folder / "Subject00_2.edf"
    data = bytearray(path.read_bytes())
    data[236:244] = b"garbage!"  # the "number of data records" header field
    path.write_bytes(bytes(data))
    with pytest.raises(RecipeError, match=r"Could not read .*Subject00_2\.edf"):
        _load(_recipe(EEGMAT, pinned=False), tmp_path)


def test_edf_pinned_and_truncated_is_a_checksum_error(data_root, tmp_path):
    folder = _copy(data_root, tmp_path, EEGMAT, "Subject00_2.edf")
    path = folder / "Subject00_2.edf"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(RecipeError, match=r"Checksum mismatch for .*Subject00_2\.edf"):
        _load(_recipe(EEGMAT), tmp_path)


def test_no_matching_file(tmp_path):
    (tmp_path / "data" / EEGMAT).mkdir(parents=True)
    (tmp_path / "data" / EEGMAT / "notes.txt").write_text("nothing here")
    with pytest.raises(FileNotFoundError, match=r"no file in .* matches the recipe pattern"):
        _load(_recipe(EEGMAT), tmp_path)
