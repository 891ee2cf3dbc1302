"""Invalid EDF headers and recordings at another scale, on real eegmat EDFs copied to a temp dir.

Each case edits the header fields of one copy byte by byte (EDF 1.0 layout: per-signal fields
after the 256-byte fixed header), the way a broken converter writes them, and checks that the
copy is caught (error naming the file, the channel, what was expected and found) while the
unmodified copies pass.
"""

from __future__ import annotations

import copy
import json
import logging
import shutil
from pathlib import Path

import pytest

from eegbench.data.cache import load_windows
from eegbench.data.quality import quality_table
from eegbench.data.recipe import Recipe, RecipeError, load_recipe
from eegbench.data.standardize import PreprocessSpec

EEGMAT = "physionet_eegmat"
SUBJECTS = ("00", "01", "02")  # six recordings: the median amplitude is a healthy one's

#: EDF 1.0 per-signal header fields, in file order, with their widths (bytes per signal).
_FIELDS = (("label", 16), ("transducer", 80), ("physical_dimension", 8), ("physical_min", 8),
           ("physical_max", 8), ("digital_min", 8), ("digital_max", 8), ("prefiltering", 80),
           ("n_samples", 8), ("reserved", 32))


def _offset(n_signals: int, field: str, signal: int) -> tuple[int, int]:
    start = 256
    for name, width in _FIELDS:
        if name == field:
            return start + signal * width, width
        start += width * n_signals
    raise KeyError(field)


def _n_signals(data: bytes) -> int:
    return int(data[252:256].decode("ascii"))


def edf_field(path: Path, field: str, signal: int) -> str:
    data = path.read_bytes()
    at, width = _offset(_n_signals(data), field, signal)
    return data[at:at + width].decode("ascii").strip()


def set_edf_field(path: Path, field: str, signal: int, value: str) -> None:
    data = bytearray(path.read_bytes())
    at, width = _offset(_n_signals(data), field, signal)
    assert len(value) <= width, value
    data[at:at + width] = value.ljust(width).encode("ascii")
    path.write_bytes(bytes(data))


def _number(value: float) -> str:
    """``value`` in at most 8 characters (an EDF number field)."""
    for digits in range(8, 0, -1):
        text = f"{value:.{digits}g}"
        if len(text) <= 8:
            return text
    raise ValueError(value)


def scale_edf(path: Path, factor: float) -> None:
    """Multiply every signal's physical range by ``factor``: all amplitudes x factor."""
    for signal in range(_n_signals(path.read_bytes())):
        if edf_field(path, "label", signal) == "EDF Annotations":
            continue
        for field in ("physical_min", "physical_max"):
            set_edf_field(path, field, signal, _number(float(edf_field(path, field, signal))
                                                       * factor))


def signal_index(path: Path, label: str) -> int:
    labels = [edf_field(path, "label", i) for i in range(_n_signals(path.read_bytes()))]
    return labels.index(label)


@pytest.fixture
def eegmat_copy(data_root, tmp_path) -> Path:
    folder = tmp_path / "data" / EEGMAT
    folder.mkdir(parents=True)
    for subject in SUBJECTS:
        for run in ("1", "2"):
            name = f"Subject{subject}_{run}.edf"
            shutil.copyfile(data_root / EEGMAT / name, folder / name)
    return folder


def _recipe(**quality) -> Recipe:
    """The eegmat recipe without its pins (the copies are edited), optional quality settings."""
    base = load_recipe(EEGMAT)
    raw = copy.deepcopy(base.raw)
    raw["source"].pop("sha256")
    if quality:
        raw["quality"] = quality
    return Recipe(name=base.name, raw=raw, path=base.path)


def _load(folder: Path, tmp_path: Path, recipe: Recipe | None = None):
    return load_windows(recipe or _recipe(), folder.parent, PreprocessSpec(), tmp_path / "cache")


def test_unmodified_copies_pass_every_check(eegmat_copy, tmp_path):
    ds = _load(eegmat_copy, tmp_path)
    assert quality_table(ds.info) == []
    assert len(ds.info["quality"]) == 2 * len(SUBJECTS)
    assert not any(r.get("reader_warnings") for r in ds.info["quality"])


def test_undefined_physical_range_is_an_error_naming_file_and_channel(eegmat_copy, tmp_path):
    """MNE reads such a channel with a range of 1 (1/100 of its scale here) and warns; the
    warning was hidden and the numbers were used."""
    path = eegmat_copy / "Subject01_2.edf"
    i = signal_index(path, "EEG Fp1")
    set_edf_field(path, "physical_max", i, edf_field(path, "physical_min", i))
    with pytest.raises(RecipeError, match=r"Subject01_2\.edf: signal quality check failed: "
                       r"channel 'Fp1' \(eeg; 'EEG Fp1' in the file\): header_physical_range: "
                       r"physical minimum equals physical maximum"):
        _load(eegmat_copy, tmp_path)


def test_undefined_physical_range_under_warn_is_kept_and_also_caught_by_amplitude(
        eegmat_copy, tmp_path, caplog):
    path = eegmat_copy / "Subject01_2.edf"
    i = signal_index(path, "EEG Fp1")
    set_edf_field(path, "physical_max", i, edf_field(path, "physical_min", i))
    with caplog.at_level(logging.WARNING, logger="eegbench"):
        ds = _load(eegmat_copy, tmp_path, _recipe(policy="warn"))
    table = quality_table(ds.info)
    assert {(r["file"], r["channel"], r["check"]) for r in table} == {
        ("Subject01_2.edf", "Fp1", "header_physical_range"),
        ("Subject01_2.edf", "Fp1", "channel_amplitude_ratio")}
    ratio = next(r for r in table if r["check"] == "channel_amplitude_ratio")
    assert ratio["value"] < 1 / 50
    assert "header_physical_range" in caplog.text


def test_digital_range_undefined_under_drop_channel_is_interpolated(eegmat_copy, tmp_path):
    path = eegmat_copy / "Subject00_1.edf"
    i = signal_index(path, "EEG O2")
    set_edf_field(path, "digital_max", i, edf_field(path, "digital_min", i))
    ds = _load(eegmat_copy, tmp_path, _recipe(policy="drop_channel"))
    report = next(r for r in ds.info["quality"] if r["file"] == "Subject00_1.edf")
    assert {(i["channel"], i["check"]) for i in report["issues"]} >= {
        ("O2", "header_digital_range")}
    assert {i["channel"] for i in report["issues"]} == {"O2"}
    assert report["action"] == "interpolated ['O2']"


def test_header_problem_of_an_unpicked_channel_is_recorded_not_failed(eegmat_copy, tmp_path):
    path = eegmat_copy / "Subject02_2.edf"
    i = signal_index(path, "ECG ECG")  # read, but not picked by the recipe
    set_edf_field(path, "physical_max", i, edf_field(path, "physical_min", i))
    ds = _load(eegmat_copy, tmp_path)
    assert quality_table(ds.info) == []
    report = next(r for r in ds.info["quality"] if r["file"] == "Subject02_2.edf")
    assert any("Physical range is not defined" in w and "ECG ECG" in w and "not used" in w
               for w in report["reader_warnings"])


def test_other_reader_warnings_go_to_the_log_and_the_manifest(eegmat_copy, tmp_path, caplog):
    path = eegmat_copy / "Subject01_1.edf"
    i = signal_index(path, "EEG Cz")
    set_edf_field(path, "prefiltering", i, "HP:1Hz LP:40Hz")  # the other channels: none
    with caplog.at_level(logging.WARNING, logger="eegbench"):
        ds = _load(eegmat_copy, tmp_path)
    assert quality_table(ds.info) == []
    manifest = json.loads((Path(ds.info["cache_entry"]) / "manifest.json").read_text())
    report = next(r for r in manifest["quality"] if r["file"] == "Subject01_1.edf")
    assert any("highpass" in w for w in report["reader_warnings"])
    assert "Subject01_1.edf: reader warning" in caplog.text and "highpass" in caplog.text


def test_recording_at_ten_times_the_scale_is_an_error(eegmat_copy, tmp_path):
    scale_edf(eegmat_copy / "Subject02_1.edf", 10.0)
    with pytest.raises(RecipeError) as err:
        _load(eegmat_copy, tmp_path)
    text = str(err.value)
    assert "relative amplitude check failed for 1 of 6 recording(s)" in text
    flagged = [line for line in text.splitlines() if line.startswith("  - ")]
    assert len(flagged) == 1 and flagged[0].startswith("  - Subject02_1.edf: ")
    # every channel, with what was found and what the dataset's median is
    for channel in load_recipe(EEGMAT).channels["pick"]:
        assert f" {channel} " in flagged[0]
    ratio = float(text.split("amplitude_ratio ")[1].split(":")[0])
    assert 8 < ratio < 12


def test_recording_at_one_and_a_half_times_the_scale_passes(eegmat_copy, tmp_path):
    scale_edf(eegmat_copy / "Subject02_1.edf", 1.5)
    ds = _load(eegmat_copy, tmp_path)
    assert quality_table(ds.info) == []


def test_recording_at_another_scale_under_drop_file_is_left_out(eegmat_copy, tmp_path):
    scale_edf(eegmat_copy / "Subject00_2.edf", 0.1)
    ds = _load(eegmat_copy, tmp_path, _recipe(policy="drop_file"))
    assert "Subject00_2.edf" not in set(ds.meta["source"])
    assert len(set(ds.meta["source"])) == 2 * len(SUBJECTS) - 1
    assert len(ds.X) == len(ds.meta)
    report = next(r for r in ds.info["quality"] if r["file"] == "Subject00_2.edf")
    assert report["action"] == "dropped file"
    assert report["issues"][0]["check"] == "amplitude_ratio"
