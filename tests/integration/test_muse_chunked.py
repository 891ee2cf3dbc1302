"""Muse CSVs with chunked timestamps, recipe ``exclude``, and count errors that list every file.

All cases use the real eeg-notebooks recordings (N170 and auditory P300, whose timestamps were
stamped in chunks by the streaming software) and the real eegmat Subject31_1 (an 80 s
recording in the official release). Expected window counts are recomputed here from the
CSV marker column, independently of eegbench.
"""

from __future__ import annotations

import copy
import logging
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from eegbench.data.cache import load_windows
from eegbench.data.readers import read_source
from eegbench.data.recipe import CountMismatches, Recipe, RecipeError, load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.resources import recipes_dir

N170 = "muse_n170_eegnotebooks"
AUDITORY = "muse_auditory_p300_eegnotebooks"
CHUNKED = "subject1/session1/data_2017-09-13-15.30.01.csv"  # N170, chunked timestamps


def _copy_subset(data_root: Path, tmp_path: Path, folder: str, pattern: str) -> Path:
    """Copy the files of ``folder`` whose relative path matches ``pattern`` into tmp.

    (Copies, not links: a link leaving the data root is refused by the recipe's confinement.)
    """
    src = data_root / folder
    for path in sorted(src.rglob("*.csv")):
        rel = path.relative_to(src).as_posix()
        if re.fullmatch(pattern, rel):
            dst = tmp_path / "data" / folder / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dst)
    return tmp_path / "data"


def _independent_counts(folder: Path, classes: dict[int, str], recipe: Recipe) -> Counter:
    """Windows per (file, class): markers whose -0.1..0.8 s window fits, outside excludes."""
    excluded = [re.compile(r["files"]) for r in recipe.raw.get("exclude") or []]
    counts: Counter = Counter()
    for path in sorted(folder.rglob("*.csv")):
        rel = path.relative_to(folder).as_posix()
        if any(rx.fullmatch(rel) for rx in excluded):
            continue
        marker = pd.read_csv(path, usecols=["Marker0"])["Marker0"].to_numpy()
        for row in np.flatnonzero(marker > 0):
            if row / 256.0 - 0.1 >= 0 and row / 256.0 + 0.8 <= len(marker) / 256.0:
                counts[(rel, classes[int(marker[row])])] += 1
    return counts


def test_chunked_timestamps_are_read_and_a_real_gap_is_located(data_root, tmp_path):
    recipe = load_recipe(N170)
    folder = _copy_subset(data_root, tmp_path, N170, re.escape(CHUNKED)) / N170
    source = next(s for s in recipe.discover(folder.parent) if s.relpath == CHUNKED)
    times = pd.read_csv(source.path, usecols=["timestamps"])["timestamps"].to_numpy()
    assert (np.diff(times) <= 0).any()  # the real file: timestamps repeat / step back
    raw = read_source(source, recipe)
    assert raw.n_times == len(times) and raw.info["sfreq"] == 256.0

    # Two lost chunks of 12 samples in the middle of the real file: a located error.
    frame = pd.read_csv(source.path)
    cut = len(frame) // 2
    edited = tmp_path / "gap" / N170 / CHUNKED
    edited.parent.mkdir(parents=True)
    frame.drop(index=range(cut, cut + 24)).to_csv(edited, index=False)
    unpinned = copy.deepcopy(recipe.raw)
    unpinned["source"].pop("sha256")
    gap_recipe = Recipe(name=N170, raw=unpinned, path=recipe.path)
    gap_source = next(s for s in gap_recipe.discover(tmp_path / "gap") if s.relpath == CHUNKED)
    with pytest.raises(RecipeError, match=r"15\.30\.01\.csv: timestamp gap at data row \d+ "
                       r"\(\d+\.\d+ s into the file\): about 2\d sample\(s\) .* were dropped"):
        read_source(gap_source, gap_recipe)

    # The same real file with the default jitter tolerance (two sample periods): refused,
    # naming the row and the declared tolerance to change.
    strict = copy.deepcopy(recipe.raw)
    strict["source"]["csv"].pop("jitter_tolerance_s")
    with pytest.raises(RecipeError, match=r"deviates by \d+\.\d ms from the regular 256\.0\d\d "
                       r"Hz clock, more than source\.csv\.jitter_tolerance_s \(7\.8 ms\)"):
        read_source(source, Recipe(name=N170, raw=strict, path=recipe.path))


def test_a_copied_muse_recipe_loads_from_a_temp_dir_with_its_excludes(data_root, tmp_path,
                                                                       caplog):
    """N170 by recipe alone: a copy outside the package, on a subset of its real files."""
    copied = tmp_path / "recipes" / "my_n170.yaml"
    copied.parent.mkdir()
    shutil.copyfile(recipes_dir() / f"{N170}.yaml", copied)
    recipe = load_recipe(copied)
    # subject10: one usable 24 s run and three runs that lost their marker stream (excluded).
    root = _copy_subset(data_root, tmp_path, N170, r"subject(10|2)/.*")
    with caplog.at_level(logging.INFO, logger="eegbench.data.recipe"):
        ds = load_windows(recipe, root, PreprocessSpec(sfreq=128.0), tmp_path / "cache")
    excluded = [r.getMessage() for r in caplog.records if "excluding" in r.getMessage()]
    assert len(excluded) == 3 and all("marker stream lost" in m for m in excluded)
    assert not ds.meta["source"].str.contains("14.34.14|14.42.27|14.45.33").any()
    want = _independent_counts(root / N170, {1: "house", 2: "face"}, recipe)
    got = Counter(zip(ds.meta["source"], ds.meta["label_name"], strict=True))
    assert got == want and sorted(set(ds.meta["subject"])) == ["10", "2"]
    assert ds.X.shape[1:] == (4, round(0.9 * 128))


def test_n170_loads_every_usable_run(data_root, cache_root):
    recipe = load_recipe(N170)
    ds = load_windows(recipe, data_root, PreprocessSpec(), cache_root)
    want = _independent_counts(data_root / N170, {1: "house", 2: "face"}, recipe)
    got = Counter(zip(ds.meta["source"], ds.meta["label_name"], strict=True))
    assert got == want
    # The 2018-05-04 history runs share subject id 11 with the 2018-06-06 run (see recipe).
    eleven = set(ds.meta.loc[ds.meta["subject"] == "11", "source"])
    assert any(s.startswith("history_") for s in eleven) and any(
        s.startswith("subject11/") for s in eleven)


def test_auditory_p300_loads_every_run(data_root, cache_root):
    recipe = load_recipe(AUDITORY)
    ds = load_windows(recipe, data_root, PreprocessSpec(), cache_root)
    want = _independent_counts(data_root / AUDITORY, {1: "non_target", 2: "target"}, recipe)
    got = Counter(zip(ds.meta["source"], ds.meta["label_name"], strict=True))
    assert got == want and len({s for s, _ in want}) == len(set(ds.meta["run"]))


def _recipe_with_counts(name: str, edit, keep: str | None = None) -> Recipe:
    """The recipe with edited counts; ``keep``: pin only the files matching this regex (the
    others are not in the test's data root, which is not a vanished recording)."""
    raw = yaml.safe_load((recipes_dir() / f"{name}.yaml").read_text())
    edit(raw["expected"]["counts"])
    if keep is not None:
        raw["source"]["sha256"] = {k: v for k, v in raw["source"]["sha256"].items()
                                   if re.fullmatch(keep, k)}
    return Recipe(name=name, raw=raw, path=None)


def test_count_errors_list_every_file_and_suggest_the_cause(data_root, tmp_path):
    subset = r".*16\.0[15]\.\d\d\.csv"
    root = _copy_subset(data_root, tmp_path, AUDITORY, subset)

    def _off_by_one(rules):
        for rule in rules:
            rule["classes"]["target"] += 1

    with pytest.raises(CountMismatches) as info:
        load_windows(_recipe_with_counts(AUDITORY, _off_by_one, keep=subset), root,
                     PreprocessSpec(), tmp_path / "cache")
    message = str(info.value)
    assert "2 of 2 file(s) do not match" in message
    assert "16.01.28.csv" in message and "16.05.21.csv" in message
    assert "sha256 pinned in the recipe" in message and "update expected.counts" in message
    assert "may be truncated" not in message


def test_eegmat_80_s_recording_is_not_called_truncated(data_root, tmp_path):
    """Subject31_1 is 80 s long in the official release: the error says so."""
    root = tmp_path / "data" / "physionet_eegmat"
    root.mkdir(parents=True)
    for name in ("Subject31_1.edf", "Subject31_2.edf"):
        shutil.copyfile(data_root / "physionet_eegmat" / name, root / name)

    def _drop_rule(rules):
        rules[:] = [r for r in rules if "31" not in r["files"]]
        rules.insert(0, {"files": r"Subject\d+_1\.edf", "classes": {"rest": 36}})

    with pytest.raises(CountMismatches) as info:
        load_windows(_recipe_with_counts("physionet_eegmat", _drop_rule), root.parent,
                     PreprocessSpec(), tmp_path / "cache", subjects=["31"])
    message = str(info.value)
    assert "1 of 2 file(s)" in message and "Subject31_1.edf" in message
    assert re.search(r"The recording is 80\.\d s long, which holds exactly the 16 window",
                     message)
    assert "its EDF header agrees (80 records of 1 s = 80 s" in message
    assert "not a truncated copy" in message and "may be truncated" not in message


def test_missing_requested_subjects_are_named(data_root, tmp_path):
    recipe = load_recipe("physionet_eegmat")
    with pytest.raises(RecipeError, match=r"'dataset\.subjects' .* subject\(s\) \['99', 'x'\] "
                       r"have no recording"):
        load_windows(recipe, data_root, PreprocessSpec(), tmp_path, subjects=[0, "01", 99, "x"])
