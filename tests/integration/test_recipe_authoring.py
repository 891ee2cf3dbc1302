"""Tools for dataset authors, on real recordings: several tasks in one recipe, ``pin`` (sha256
block and expected.counts written from the files), and per-file crops with a reason.

The multi-task recipe is built here from the four shipped single-task eegmmidb recipes (one
file list, one sha256 block, four label maps); each task must give exactly the windows of its
single-task recipe.
"""

from __future__ import annotations

import copy
import re
import shutil
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest
import yaml

from eegbench.data.__main__ import main as data_cli
from eegbench.data.cache import load_windows
from eegbench.data.pin import pin_recipe
from eegbench.data.recipe import RecipeError, load_recipe
from eegbench.data.standardize import PreprocessSpec

EEGMMIDB_TASKS = {"imagery_lr": "physionet_eegmmidb_imagery_lr",
                  "executed_lr": "physionet_eegmmidb_executed_lr",
                  "imagery_fists_feet": "physionet_eegmmidb_imagery_fists_feet",
                  "executed_fists_feet": "physionet_eegmmidb_executed_fists_feet"}
EEGMAT = "physionet_eegmat"
VISUAL = "muse_visual_p300_eegnotebooks"


def _runs(pattern: str) -> str:
    return re.search(r"\(\?P<run>([^)]*)\)", pattern).group(1)


def multi_task_eegmmidb(with_counts: bool = True) -> dict:
    """One recipe for the eegmmidb folder with the four shipped recipes as tasks."""
    singles = {task: load_recipe(name).raw for task, name in EEGMMIDB_TASKS.items()}
    first = copy.deepcopy(singles["imagery_lr"])
    raw = {k: v for k, v in first.items() if k not in ("labels", "expected")}
    raw.update(name="physionet_eegmmidb", title="EEG motor movement/imagery",
               paradigm="motor_imagery", expected={
                   k: v for k, v in first["expected"].items() if k != "counts"})
    runs = "|".join(sorted(r for s in singles.values()
                           for r in _runs(s["source"]["pattern"]).split("|")))
    raw["source"] = {**first["source"],
                     "pattern": rf"S(?P<subject>\d+)/S\d+R(?P<run>{runs})\.edf",
                     "sha256": {k: v for s in singles.values()
                                for k, v in s["source"]["sha256"].items()}}
    raw["tasks"] = {}
    for task, single in singles.items():
        entry = {"title": single["title"], "paradigm": single["paradigm"],
                 "files": rf"S\d+/S\d+R({_runs(single['source']['pattern'])})\.edf",
                 "labels": single["labels"]}
        if with_counts:
            entry["expected"] = {"counts": single["expected"]["counts"]}
        raw["tasks"][task] = entry
    return raw


@pytest.fixture
def multi_task_path(tmp_path) -> Path:
    path = tmp_path / "physionet_eegmmidb.yaml"
    path.write_text(yaml.safe_dump(multi_task_eegmmidb(), sort_keys=False))
    return path


# -- several tasks per recipe -----------------------------------------------------------------
@pytest.mark.parametrize("task", ["imagery_lr", "executed_fists_feet"])
def test_each_task_gives_the_windows_of_its_single_task_recipe(multi_task_path, data_root,
                                                               tmp_path, task):
    multi = load_windows(load_recipe(multi_task_path, task=task), data_root, PreprocessSpec(),
                         tmp_path / "cache")
    single = load_windows(load_recipe(EEGMMIDB_TASKS[task]), data_root, PreprocessSpec(),
                          tmp_path / "cache")
    np.testing.assert_array_equal(np.asarray(multi.X), np.asarray(single.X))
    pd.testing.assert_frame_equal(multi.meta, single.meta)
    assert multi.classes == single.classes and multi.info["task"] == task
    assert multi.info["key"] != single.info["key"]


def test_tasks_have_their_own_cache_entries_and_metric(multi_task_path):
    recipes = [load_recipe(multi_task_path, task=t) for t in EEGMMIDB_TASKS]
    assert len({r.fingerprint() for r in recipes}) == len(EEGMMIDB_TASKS)
    assert [r.classes for r in recipes] == [load_recipe(n).classes
                                           for n in EEGMMIDB_TASKS.values()]


def test_a_multi_task_recipe_without_a_task_is_a_clear_error(multi_task_path, data_root,
                                                             tmp_path):
    recipe = load_recipe(multi_task_path)
    assert recipe.task_names == sorted(EEGMMIDB_TASKS)
    assert len(recipe.discover(data_root)) == sum(
        len(load_recipe(n).discover(data_root)) for n in EEGMMIDB_TASKS.values())
    with pytest.raises(RecipeError, match=r"declares several tasks \['executed_fists_feet', "
                       r"'executed_lr', 'imagery_fists_feet', 'imagery_lr'\]; select one with "
                       r"dataset\.task"):
        load_windows(recipe, data_root, PreprocessSpec(), tmp_path / "cache")
    with pytest.raises(RecipeError, match=r"Invalid value for the 'dataset\.task' parameter of "
                       r"recipe 'physionet_eegmmidb'\. Allowed values are \[.*\], but got "
                       r"'imagery'"):
        load_recipe(multi_task_path, task="imagery")


def test_an_incomplete_task_names_the_task(tmp_path):
    raw = multi_task_eegmmidb()
    del raw["tasks"]["executed_lr"]["labels"]
    path = tmp_path / "physionet_eegmmidb.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    load_recipe(path, task="imagery_lr")  # the other tasks are fine
    with pytest.raises(RecipeError, match=r"Missing required key 'labels' in .*"
                       r"physionet_eegmmidb\.yaml \(task 'executed_lr'\)\."):
        load_recipe(path, task="executed_lr")


def test_a_single_task_recipe_keeps_working_with_a_task_label():
    recipe = load_recipe(EEGMAT, task="rest_vs_arithmetic")  # dataset.task is a label there
    assert recipe.task is None and recipe.raw == load_recipe(EEGMAT).raw


# -- pin ------------------------------------------------------------------------------------
def _edf_windows(path: Path, length_s: float) -> int:
    raw = mne.io.read_raw_edf(path, verbose="error")
    return int((raw.n_times / raw.info["sfreq"] - length_s) // length_s) + 1


def test_pin_writes_the_sha256_block_and_counts_of_a_new_recipe(data_root, tmp_path):
    """A recipe written without pins or counts: `pin --counts --write` makes it load."""
    folder = tmp_path / "data" / EEGMAT
    folder.mkdir(parents=True)
    for name in ("Subject00_1.edf", "Subject00_2.edf", "Subject31_1.edf", "Subject31_2.edf"):
        shutil.copyfile(data_root / EEGMAT / name, folder / name)
    text = load_recipe(EEGMAT).path.read_text()
    start, end = text.index("  sha256:\n"), text.index("labels:\n")
    counts = text.index("  counts:\n")
    new = text[:start] + text[end:counts]
    path = tmp_path / "physionet_eegmat.yaml"
    path.write_text(new)
    with pytest.raises(RecipeError, match=r"Missing required key 'expected\.counts' in "):
        load_recipe(path)
    status = data_cli(["pin", str(path), "--data-root", str(tmp_path / "data"), "--counts",
                       "--write"])
    assert status == 0
    pinned = load_recipe(path)
    assert pinned.source["sha256"] == {
        name: load_recipe(EEGMAT).source["sha256"][name] for name in sorted(
            p.name for p in folder.iterdir())}
    assert "# PhysioNet \"EEG During Mental Arithmetic Tasks\"" in path.read_text()  # comments
    for source in pinned.discover(tmp_path / "data"):
        n = _edf_windows(source.path, 5.0)
        assert pinned.expected_counts(source) == {pinned.label_of(source): (n, n)}
    load_windows(pinned, tmp_path / "data", PreprocessSpec(), tmp_path / "cache")
    again = pin_recipe(path, tmp_path / "data", counts=True)
    assert again.diff == "" and not again.new_rules  # nothing left to pin


def test_pin_shows_a_new_and_a_changed_file_and_keeps_absent_pins(data_root, tmp_path,
                                                                  capsys):
    recipe = load_recipe(EEGMAT)
    folder = tmp_path / "data" / EEGMAT
    folder.mkdir(parents=True)
    shutil.copyfile(data_root / EEGMAT / "Subject01_1.edf", folder / "Subject01_1.edf")
    shutil.copyfile(data_root / EEGMAT / "Subject01_2.edf", folder / "Subject99_2.edf")
    damaged = bytearray((data_root / EEGMAT / "Subject01_2.edf").read_bytes())
    damaged[-1] ^= 0xFF
    (folder / "Subject01_2.edf").write_bytes(bytes(damaged))
    path = tmp_path / "physionet_eegmat.yaml"
    shutil.copyfile(recipe.path, path)
    status = data_cli(["pin", str(path), "--data-root", str(tmp_path / "data")])
    out = capsys.readouterr().out
    assert status == 0 and path.read_text() == recipe.path.read_text()  # no --write
    n_absent = len(recipe.source["sha256"]) - 2
    assert (f"1 file(s) newly pinned; 1 pin(s) changed; {n_absent} pinned file(s) absent "
            "locally (kept)") in out
    result = pin_recipe(path, tmp_path / "data")
    assert list(result.added) == ["Subject99_2.edf"]
    assert list(result.changed) == ["Subject01_2.edf"]
    assert len(result.absent) == n_absent
    assert f"+    'Subject99_2.edf': {recipe.source['sha256']['Subject01_2.edf']}" in out
    assert "-    'Subject01_2.edf': " in out and "+    'Subject01_2.edf': " in out


def test_pin_counts_every_task_of_a_multi_task_recipe(data_root, tmp_path):
    path = tmp_path / "physionet_eegmmidb.yaml"
    path.write_text(yaml.safe_dump(multi_task_eegmmidb(with_counts=False), sort_keys=False))
    result = pin_recipe(path, data_root, counts=True)
    assert sorted(result.new_rules) == sorted(EEGMMIDB_TASKS)
    path.write_text(result.new_text)
    for task, name in EEGMMIDB_TASKS.items():
        multi, single = load_recipe(path, task=task), load_recipe(name)
        for source in single.discover(data_root):
            assert multi.expected_counts(source) == single.expected_counts(source)


# -- crop -----------------------------------------------------------------------------------
def _muse_copy(data_root: Path, tmp_path: Path) -> tuple[Path, str]:
    recipe = load_recipe(VISUAL)
    rel = sorted(recipe.source["sha256"])[0]
    dst = tmp_path / "data" / recipe.source["folder"] / rel
    dst.parent.mkdir(parents=True)
    shutil.copyfile(data_root / recipe.source["folder"] / rel, dst)
    return dst, rel


def _visual_recipe(tmp_path: Path, rel: str, crop: dict | None = None) -> Path:
    raw = copy.deepcopy(load_recipe(VISUAL).raw)
    raw["source"]["sha256"] = {}  # the copy is edited
    raw["expected"]["counts"] = [{"files": ".*", "classes": {"non_target": [0, 1000],
                                                              "target": [0, 1000]}}]
    if crop is not None:
        raw["crop"] = {rel: crop}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_crop_keeps_the_good_part_of_a_file_with_a_timestamp_gap(data_root, tmp_path):
    """Timestamps jump 20 s before the end: the gap is an error; a crop before it is read,
    recorded in the manifest, and yields the markers of the part kept."""
    path, rel = _muse_copy(data_root, tmp_path)
    frame = pd.read_csv(path)
    jump_row = len(frame) - 20 * 256
    frame.loc[jump_row:, "timestamps"] += 0.5
    frame.to_csv(path, index=False, float_format="%.6f")
    with pytest.raises(RecipeError, match=rf"timestamp gap at data row {jump_row + 1} .*keep "
                       r"the part before it \(recipe `crop`\)"):
        load_windows(load_recipe(_visual_recipe(tmp_path, rel)), tmp_path / "data",
                     PreprocessSpec(), tmp_path / "cache")
    tmax = (jump_row - 256) / 256.0
    reason = "timestamps jump by 0.5 s 20 s before the end (dropped samples)"
    recipe = load_recipe(_visual_recipe(tmp_path, rel, {"tmax": tmax, "reason": reason}))
    ds = load_windows(recipe, tmp_path / "data", PreprocessSpec(), tmp_path / "cache")
    assert ds.info["crops"] == {rel: {"tmin": 0.0, "tmax": tmax, "reason": reason}}
    column = next(c for c in ("Marker", "Marker0") if c in frame)
    marker = frame[column].to_numpy()
    rows = np.flatnonzero(marker > 0)
    onsets = rows / 256.0
    kept = (onsets - 0.1 >= 0) & (onsets + 0.8 <= tmax)
    assert len(ds.meta) == int(kept.sum())
    np.testing.assert_allclose(ds.meta["onset_s"].to_numpy(), onsets[kept], atol=1e-9)


def test_crop_start_keeps_onsets_in_the_file_time(data_root, tmp_path):
    folder = tmp_path / "data" / EEGMAT
    folder.mkdir(parents=True)
    for name in ("Subject00_1.edf", "Subject00_2.edf", "Subject01_1.edf", "Subject01_2.edf"):
        shutil.copyfile(data_root / EEGMAT / name, folder / name)
    raw = copy.deepcopy(load_recipe(EEGMAT).raw)
    raw["crop"] = {"Subject00_1.edf": {"tmin": 12.0, "tmax": 72.0,
                                       "reason": "electrode check in the first 12 s"}}
    raw["expected"]["counts"].insert(0, {"files": r"Subject00_1\.edf", "classes": {"rest": 12}})
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    ds = load_windows(load_recipe(path), tmp_path / "data", PreprocessSpec(), tmp_path / "cache")
    onsets = ds.meta.loc[ds.meta["source"] == "Subject00_1.edf", "onset_s"].to_numpy()
    np.testing.assert_allclose(onsets, 12.0 + 5.0 * np.arange(12))
    assert set(ds.info["crops"]) == {"Subject00_1.edf"}


def test_crop_outside_the_recording_is_an_error(data_root, tmp_path):
    folder = tmp_path / "data" / EEGMAT
    folder.mkdir(parents=True)
    shutil.copyfile(data_root / EEGMAT / "Subject00_2.edf", folder / "Subject00_2.edf")
    raw = copy.deepcopy(load_recipe(EEGMAT).raw)
    raw["source"]["sha256"] = {"Subject00_2.edf": raw["source"]["sha256"]["Subject00_2.edf"]}
    raw["crop"] = {"Subject00_2.edf": {"tmax": 100.0, "reason": "too long"}}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(RecipeError, match=r"Invalid value for the 'crop' entry of "
                       r"Subject00_2\.edf: \[0\.0, 100\.0\] s does not lie inside the "
                       r"recording, which lasts 62\.000 s"):
        load_windows(load_recipe(path), tmp_path / "data", PreprocessSpec(),
                     tmp_path / "cache")
    raw["crop"] = {"Subject00_2.edf": {"tmin": 5.0, "tmax": 2.0, "reason": "x"}}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    with pytest.raises(RecipeError, match=r"crop tmax \(2\.0\) must be greater than tmin"):
        load_recipe(path)
