"""Bad recipe values and damaged real files get errors naming the key, file, row or channel.

Each case was accepted silently or failed with a raw library error before: a string where a
number belongs (``TypeError`` deep in the windowing), a channel listed twice (MNE's "sel is not
unique"), a fractional CSV event code (truncated to an integer), a timestamp jump inside a
Muse file's last second (reported as jitter, with the advice to raise the jitter tolerance).
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eegbench.data.readers import read_source
from eegbench.data.recipe import Recipe, RecipeError, load_recipe

EEGMAT = "physionet_eegmat"
VISUAL = "muse_visual_p300_eegnotebooks"
N170 = "muse_n170_eegnotebooks"


def _edited(name: str, edit) -> dict:
    raw = copy.deepcopy(load_recipe(name).raw)
    edit(raw)
    return raw


def _recipe(name: str, raw: dict) -> Recipe:
    return Recipe(name=name, raw=raw, path=load_recipe(name).path)


# -- recipe values ----------------------------------------------------------------------------
@pytest.mark.parametrize("key, value, expected", [
    ("length_s", "5", r"'windows\.length_s' parameter .*: Input should be a valid number, but "
                      r"got '5'"),
    ("stride_s", [5], r"'windows\.stride_s' parameter .*: Input should be a valid number"),
])
def test_wrong_type_names_the_key_and_the_expected_type(key, value, expected):
    raw = _edited(EEGMAT, lambda r: r["windows"].__setitem__(key, value))
    with pytest.raises(RecipeError, match=expected):
        _recipe(EEGMAT, raw)


def test_count_of_the_wrong_type_is_one_line_naming_the_key():
    raw = _edited(EEGMAT, lambda r: r["expected"]["counts"][0]["classes"].__setitem__(
        "rest", "34"))
    with pytest.raises(RecipeError) as err:
        _recipe(EEGMAT, raw)
    lines = str(err.value).splitlines()
    assert len(lines) == 1
    assert "'expected.counts.0.classes.rest' parameter" in lines[0]
    assert "valid integer or Input should be a valid list, but got '34'" in lines[0]


def test_duplicate_channel_in_pick_names_the_channel_and_the_key():
    raw = _edited(EEGMAT, lambda r: r["channels"]["pick"].append("Cz"))
    with pytest.raises(RecipeError, match=r"'channels\.pick' parameter .*: channels\.pick must "
                       r"name each channel once; \['Cz'\] appear\(s\) more than once"):
        _recipe(EEGMAT, raw)


def test_duplicate_rename_target_names_the_channels():
    raw = _edited(EEGMAT, lambda r: r["channels"]["rename"].update({"EEG A2-A1": "Cz"}))
    with pytest.raises(RecipeError, match=r"'channels\.rename' parameter .*: channels\.rename "
                       r"gives several file channels the same name: \{'Cz': \['EEG A2-A1', "
                       r"'EEG Cz'\]\}"):
        _recipe(EEGMAT, raw)


def test_rename_onto_an_existing_channel_names_both(data_root, tmp_path):
    """Renaming a file channel onto the name of another channel of the file (real eegmat)."""
    raw = _edited(EEGMAT, lambda r: r["channels"]["rename"].update({"EEG A2-A1": "ECG ECG"}))
    raw["source"].pop("sha256")
    folder = tmp_path / "data" / EEGMAT
    folder.mkdir(parents=True)
    shutil.copyfile(data_root / EEGMAT / "Subject00_2.edf", folder / "Subject00_2.edf")
    recipe = _recipe(EEGMAT, raw)
    source = recipe.discover(tmp_path / "data")[0]
    from eegbench.data.standardize import select_channels

    with pytest.raises(RecipeError, match=r"Subject00_2\.edf: recipe 'physionet_eegmat' "
                       r"channels\.rename would give two channels the same name: "
                       r"'EEG A2-A1' -> 'ECG ECG', but the file already has a channel named "
                       r"'ECG ECG'"):
        select_channels(read_source(source, recipe), recipe, source)


# -- CSV files --------------------------------------------------------------------------------
def _copy_one(data_root: Path, tmp_path: Path, name: str, index: int = 0) -> tuple[Path, str]:
    """Copy one CSV of dataset ``name`` (a file the recipe pins) into a temp data root."""
    recipe = load_recipe(name)
    rel = sorted(recipe.source["sha256"])[index]
    dst = tmp_path / "data" / recipe.source["folder"] / rel
    dst.parent.mkdir(parents=True)
    shutil.copyfile(data_root / recipe.source["folder"] / rel, dst)
    return dst, rel


def _read(name: str, tmp_path: Path, rel: str):
    raw = copy.deepcopy(load_recipe(name).raw)
    raw["source"].pop("sha256")
    recipe = _recipe(name, raw)
    source = next(s for s in recipe.discover(tmp_path / "data") if s.relpath == rel)
    return read_source(source, recipe)


def test_fractional_marker_code_is_an_error_naming_file_row_and_value(data_root, tmp_path):
    path, rel = _copy_one(data_root, tmp_path, VISUAL)
    frame = pd.read_csv(path)
    column = next(c for c in ("Marker", "Marker0") if c in frame)
    row = int(np.flatnonzero(frame[column].to_numpy() == 1)[3])
    frame[column] = frame[column].astype(float)
    frame.loc[row, column] = 1.5
    frame.to_csv(path, index=False)
    with pytest.raises(RecipeError, match=rf"{re.escape(rel)}: marker column '{column}' holds "
                       rf"a non-integer event code 1\.5 at data row {row + 1} \(1 such row"):
        _read(VISUAL, tmp_path, rel)


def _last_block_start(n_rows: int, sfreq: int = 256) -> int:
    """First row of the file's last (partial) second, counted from the first row."""
    return (n_rows - 1) // sfreq * sfreq


def _copy_with_long_last_second(data_root: Path, tmp_path: Path, name: str
                                ) -> tuple[Path, str]:
    """Copy a pinned CSV whose final partial second holds at least half a second of rows."""
    recipe = load_recipe(name)
    folder = data_root / recipe.source["folder"]
    for index, rel in enumerate(sorted(recipe.source["sha256"])):
        n = len(pd.read_csv(folder / rel, usecols=["timestamps"]))
        if n - _last_block_start(n) >= 128:
            return _copy_one(data_root, tmp_path, name, index)
    pytest.skip(f"no file of {name} ends with a partial second of >= 0.5 s")


def _jump_in_last_second(path: Path, jump_s: float) -> int:
    """Delay the timestamps from a third into the file's last partial second on by ``jump_s``
    (as when samples are dropped there); return the first delayed data row (1-based)."""
    frame = pd.read_csv(path)
    last = _last_block_start(len(frame))
    first = last + (len(frame) - last) // 3
    frame.loc[first:, "timestamps"] = frame.loc[first:, "timestamps"] + jump_s
    frame.to_csv(path, index=False, float_format="%.6f")
    return first + 1


@pytest.mark.parametrize("name, jump_s", [(VISUAL, 0.1), (N170, 0.05)])
def test_timestamp_jump_in_the_last_second_is_a_gap(data_root, tmp_path, name, jump_s):
    """Visual P300 (regular stamps): reported as jitter before. N170 (chunked stamps,
    jitter tolerance 0.1 s): a 50 ms jump went through unnoticed before."""
    path, rel = _copy_with_long_last_second(data_root, tmp_path, name)
    _read(name, tmp_path, rel)  # the unmodified copy passes
    row = _jump_in_last_second(path, jump_s)
    with pytest.raises(RecipeError) as err:
        _read(name, tmp_path, rel)
    text = str(err.value)
    assert f"{rel}: timestamp gap at data row {row} " in text, text
    assert f"about {jump_s * 256:.0f} sample(s)" in text
    assert "jitter_tolerance" not in text
