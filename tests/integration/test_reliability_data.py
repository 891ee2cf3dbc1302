"""Data integrity on real recordings copied or linked into a temp folder: edited cache
manifests, read-only caches, vanished recordings, subjects lacking a class, and the
signal-quality checks (clipping, flat segments, implausible amplitudes)."""

from __future__ import annotations

import copy
import json
import logging
import shutil
from pathlib import Path

import mne
import numpy as np
import pytest
from conftest import link_or_copy, read_only_view

from eegbench.data.cache import (
    check_subject_classes,
    entry_problem,
    load_windows,
)
from eegbench.data.quality import QualitySpec, quality_table
from eegbench.data.recipe import Recipe, RecipeError, load_recipe
from eegbench.data.standardize import PreprocessSpec

MEG = "meg_elekta_3ch"          # the smallest real recording (cache built in ~1 s)


EEGMAT = "physionet_eegmat"
SSVEP = "ssvep_exo_kalunga2016"
SSVEP_RECS = ("subject01/record-[2012.07.06-19.02.16]", "subject02/record-[2012.07.19-17.36.23]")


def _recipe(name: str, *, pinned: bool = True, **changes) -> Recipe:
    base = load_recipe(name)
    raw = copy.deepcopy(base.raw)
    if not pinned:
        raw["source"].pop("sha256", None)
    raw.update(changes)
    return Recipe(name=name, raw=raw, path=base.path)


# -- cache manifest and read-only use ---------------------------------------------------------
@pytest.fixture
def meg_entry(data_root, tmp_path):
    ds = load_windows(load_recipe(MEG), data_root, PreprocessSpec(), tmp_path / "cache")
    return Path(ds.info["cache_entry"]), ds


@pytest.mark.parametrize("edit", ["sfreq", "channel_name"])
def test_edited_manifest_is_detected_and_rebuilt(meg_entry, data_root, tmp_path, caplog, edit):
    entry, ds = meg_entry
    manifest = json.loads((entry / "manifest.json").read_text())
    if edit == "sfreq":
        manifest["sfreq"] = manifest["sfreq"] * 2
    else:
        manifest["ch_names"][0] = "EEG999"
    (entry / "manifest.json").write_text(json.dumps(manifest, indent=1))
    assert "manifest.json was modified" in entry_problem(entry)
    with caplog.at_level(logging.WARNING, logger="eegbench"):
        again = load_windows(load_recipe(MEG), data_root, PreprocessSpec(), tmp_path / "cache")
    assert "rebuilding" in caplog.text
    assert again.info["sfreq"] == ds.info["sfreq"] and again.info["ch_names"] == \
        ds.info["ch_names"]


def test_valid_entry_is_used_from_a_read_only_cache_and_an_invalid_one_refused(meg_entry,
                                                                              data_root,
                                                                              tmp_path):
    entry, ds = meg_entry
    cache = entry.parents[1]
    with read_only_view(cache, tmp_path) as ro_cache:
        with pytest.raises(OSError):  # really read-only
            (ro_cache / "probe").write_text("x")
        before = sorted(p.name for p in ro_cache.rglob("*"))
        again = load_windows(load_recipe(MEG), data_root, PreprocessSpec(), ro_cache)
        assert again.info["cache_entry"] == str(ro_cache / entry.relative_to(cache))
        np.testing.assert_array_equal(again.X, ds.X)
        assert sorted(p.name for p in ro_cache.rglob("*")) == before  # nothing written (no lock)
        del again  # close the memory map before unmounting
    manifest = json.loads((entry / "manifest.json").read_text())
    manifest["sfreq"] = 1.0
    (entry / "manifest.json").write_text(json.dumps(manifest))
    with read_only_view(cache, tmp_path) as ro_cache:
        ro_entry = ro_cache / entry.relative_to(cache)
        with pytest.raises(RecipeError, match=rf"Cache entry {ro_entry} is unusable "
                           r"\(manifest.json was modified.*is not writable"):
            load_windows(load_recipe(MEG), data_root, PreprocessSpec(), ro_cache)


# -- vanished recordings, subjects lacking a class -------------------------------------------
@pytest.fixture
def eegmat_links(data_root, tmp_path):
    folder = tmp_path / "data" / EEGMAT
    folder.mkdir(parents=True)
    for subject in ("00", "01", "02", "03"):
        for path in sorted((data_root / EEGMAT).glob(f"Subject{subject}_*.edf")):
            link_or_copy(path, folder / path.name)
    return folder


def test_deleted_recording_is_an_error_naming_it(eegmat_links, tmp_path):
    (eegmat_links / "Subject01_2.edf").unlink()
    with pytest.raises(RecipeError, match=r"pinned in the recipe's source.sha256 but not "
                       r"found: \['Subject01_2.edf'\]"):
        load_windows(load_recipe(EEGMAT), tmp_path / "data", PreprocessSpec(),
                     tmp_path / "cache")


def test_symlink_loop_is_an_error_naming_it(eegmat_links, tmp_path):
    path = eegmat_links / "Subject02_1.edf"
    path.unlink()
    path.symlink_to(path.name)  # a link to itself: ELOOP
    with pytest.raises(RecipeError, match=r"dangling symlink or symlink loop\): "
                       r"\['Subject02_1.edf'\]"):
        load_windows(_recipe(EEGMAT, pinned=False), tmp_path / "data", PreprocessSpec(),
                     tmp_path / "cache")


def test_subject_lacking_a_class_is_an_error_naming_it(eegmat_links, tmp_path):
    """Unpinned recipe: nothing tells that Subject03_2 existed; the class check does."""
    (eegmat_links / "Subject03_2.edf").unlink()
    ds = load_windows(_recipe(EEGMAT, pinned=False), tmp_path / "data", PreprocessSpec(),
                      tmp_path / "cache")
    with pytest.raises(RecipeError, match=r"03 lacks \['arithmetic'\]"):
        check_subject_classes(ds)


# -- signal quality ----------------------------------------------------------------------------
@pytest.fixture
def ssvep_copy(data_root, tmp_path):
    for rec in SSVEP_RECS:
        for suffix in ("_raw.fif", "-eve.fif"):
            dst = tmp_path / "data" / SSVEP / f"{rec}{suffix}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data_root / SSVEP / f"{rec}{suffix}", dst)
    return tmp_path / "data" / SSVEP


def _edit(path: Path, edit) -> None:
    raw = mne.io.read_raw_fif(path, preload=True, verbose="error")
    edit(raw._data)
    path.unlink()
    raw.save(path, fmt="double", verbose="error")


def _clip_40(data):  # channel 3 held on its rails for 40 % of the recording
    lo, hi = np.percentile(data[3], [20, 80])
    data[3] = np.clip(data[3], lo, hi)


def _zero_90(data):  # channel 1 at zero for 90 % of the recording
    data[1, : int(0.9 * data.shape[1])] = 0.0


def _volt(data):  # channel 5 reaches 1e6 uV (1 V) once standardized: a unit error
    scale = float(load_recipe(SSVEP).channels.get("scale") or 1.0)  # the recipe's unit repair
    data[5] = data[5] / np.abs(data[5]).max() / scale


@pytest.mark.parametrize("edit, check", [
    (_clip_40, "clipped_fraction"), (_zero_90, "flat_fraction"), (_volt, "max_abs_amplitude")])
def test_quality_error_policy_names_file_channel_and_check(ssvep_copy, tmp_path, edit, check):
    """Default policy 'error': the old code accepted each of these silently."""
    raw = mne.io.read_raw_fif(ssvep_copy / f"{SSVEP_RECS[0]}_raw.fif", verbose="error")
    chans = load_recipe(SSVEP).channels["pick"]
    idx = {"_clip_40": 3, "_zero_90": 1, "_volt": 5}[edit.__name__]
    name = raw.ch_names[idx]
    if name not in chans:
        pytest.skip(f"channel {name} is not picked by the recipe")
    _edit(ssvep_copy / f"{SSVEP_RECS[0]}_raw.fif", edit)
    with pytest.raises(RecipeError, match=rf"19\.02\.16\]_raw\.fif: signal quality check "
                       rf"failed: channel '{name}' \(eeg\): {check}"):
        load_windows(_recipe(SSVEP, pinned=False), tmp_path / "data", PreprocessSpec(),
                     tmp_path / "cache")


def test_quality_warn_records_the_report_in_manifest_and_catalogue(ssvep_copy, tmp_path,
                                                                   caplog):
    _edit(ssvep_copy / f"{SSVEP_RECS[0]}_raw.fif", _zero_90)
    recipe = _recipe(SSVEP, pinned=False, quality={"policy": "warn"})
    with caplog.at_level(logging.WARNING, logger="eegbench"):
        ds = load_windows(recipe, tmp_path / "data", PreprocessSpec(), tmp_path / "cache")
    assert "flat_fraction" in caplog.text
    table = quality_table(ds.info)
    assert len(table) == 1 and table[0]["check"] == "flat_fraction"
    assert table[0]["file"] == f"{SSVEP_RECS[0]}_raw.fif" and table[0]["value"] > 0.85
    assert len(ds.info["quality"]) == len(SSVEP_RECS)  # one report per file, clean ones too
    assert set(ds.meta["source"]) == {f"{r}_raw.fif" for r in SSVEP_RECS}


def test_quality_drop_file_leaves_the_recording_out(ssvep_copy, tmp_path):
    _edit(ssvep_copy / f"{SSVEP_RECS[1]}_raw.fif", _volt)
    recipe = _recipe(SSVEP, pinned=False, quality={"policy": "drop_file"})
    ds = load_windows(recipe, tmp_path / "data", PreprocessSpec(), tmp_path / "cache")
    assert set(ds.meta["source"]) == {f"{SSVEP_RECS[0]}_raw.fif"}
    assert [r["action"] for r in ds.info["quality"]] == ["none", "dropped file"]


def test_quality_drop_channel_interpolates_it(ssvep_copy, tmp_path):
    _edit(ssvep_copy / f"{SSVEP_RECS[0]}_raw.fif", _clip_40)
    recipe = _recipe(SSVEP, pinned=False, quality={"policy": "drop_channel"})
    ds = load_windows(recipe, tmp_path / "data", PreprocessSpec(), tmp_path / "cache")
    report = ds.info["quality"][0]
    assert report["action"].startswith("interpolated ['")
    assert len(ds.info["ch_names"]) == len(load_recipe(SSVEP).channels["pick"])


def test_quality_section_typos_and_ranges_are_errors():
    with pytest.raises(ValueError, match=r"Did you mean 'max_flat_fraction'"):
        QualitySpec.from_recipe({"max_flat_fractoin": 0.3})
    with pytest.raises(ValueError, match=r"Allowed values are \['error', 'warn', "
                       r"'drop_channel', 'drop_file'\], but got 'ignore'"):
        QualitySpec.from_recipe({"policy": "ignore"})
    with pytest.raises(ValueError, match=r"must be in \[0.0, 1.0\], but got 1.5"):
        QualitySpec.from_recipe({"max_clipped_fraction": 1.5})
