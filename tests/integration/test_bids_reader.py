"""BIDS reader: a BIDS tree written with mne-bids from real recordings gives the same windows as
the direct recipe (events from events.tsv; labels from the task entity)."""

from __future__ import annotations

import copy

import mne
import numpy as np
import pytest

mne_bids = pytest.importorskip("mne_bids")

from eegbench.data.cache import load_windows  # noqa: E402
from eegbench.data.recipe import Recipe, load_recipe  # noqa: E402
from eegbench.data.standardize import PreprocessSpec  # noqa: E402


def _bids_recipe(name: str, folder: str, pattern: str, **changes) -> Recipe:
    raw = copy.deepcopy(load_recipe(name).raw)
    raw["source"] = {"folder": folder, "reader": "bids", "pattern": pattern,
                     "bids": {"datatype": "eeg"}}
    raw.update(changes)
    return Recipe(name=raw["name"], raw=raw)


def _same_windows(direct, bids, columns):
    assert direct.X.shape == bids.X.shape
    np.testing.assert_allclose(np.asarray(bids.X), np.asarray(direct.X), rtol=1e-5, atol=1e-4)
    left = direct.meta[columns].reset_index(drop=True)
    right = bids.meta[columns].reset_index(drop=True)
    assert left.equals(right), (left.head(), right.head())


def test_bids_events_tsv_gives_the_windows_of_the_edf_recipe(data_root, tmp_path):
    """eegmmidb S001 imagery runs as BIDS (task, run, events.tsv from the EDF annotations)."""
    bids_root = tmp_path / "data" / "eegmmidb_bids"
    runs = ("04", "08", "12")
    for run in runs:
        raw = mne.io.read_raw_edf(data_root / "physionet_eegmmidb" / "S001" / f"S001R{run}.edf",
                                  verbose="error")
        path = mne_bids.BIDSPath(subject="001", task="imagery", run=run, datatype="eeg",
                                 root=bids_root)
        mne_bids.write_raw_bids(raw, path, verbose="error")
    assert (bids_root / "sub-001" / "eeg" / "sub-001_task-imagery_run-04_events.tsv").is_file()
    expected = copy.deepcopy(load_recipe("physionet_eegmmidb_imagery_lr").raw["expected"])
    expected["counts"] = [{"files": r".*_run-\d+_eeg\.edf",
                           "classes": {"left_fist": [5, 10], "right_fist": [5, 10]}}]
    recipe = _bids_recipe(
        "physionet_eegmmidb_imagery_lr", "eegmmidb_bids",
        r"sub-(?P<subject>\d+)/eeg/sub-\d+_task-imagery_run-(?P<run>\d+)_eeg\.edf",
        expected=expected)
    spec = PreprocessSpec()
    bids = load_windows(recipe, tmp_path / "data", spec, tmp_path / "cache")
    direct = load_windows(load_recipe("physionet_eegmmidb_imagery_lr"), data_root, spec,
                          tmp_path / "cache")
    assert sorted(set(bids.meta["run"])) == list(runs)
    _same_windows(direct, bids, ["subject", "run", "label_name", "onset_s", "event_code"])


def test_bids_task_entity_labels_fixed_windows_like_the_eegmat_recipe(data_root, tmp_path):
    """Two eegmat subjects as BIDS: task-rest / task-arithmetic label whole files."""
    bids_root = tmp_path / "data" / "eegmat_bids"
    subjects = ["00", "01"]
    for subject in subjects:
        for run, task in (("1", "rest"), ("2", "arithmetic")):
            raw = mne.io.read_raw_edf(data_root / "physionet_eegmat" /
                                      f"Subject{subject}_{run}.edf", verbose="error")
            mne_bids.write_raw_bids(raw, mne_bids.BIDSPath(subject=subject, task=task,
                                                           datatype="eeg", root=bids_root),
                                    overwrite=True, verbose="error")
    direct_recipe = load_recipe("physionet_eegmat")
    labels = {"from": "task", "map": {"rest": "rest", "arithmetic": "arithmetic"},
              "classes": direct_recipe.classes}
    expected = copy.deepcopy(direct_recipe.raw["expected"])
    expected["counts"] = [{"files": r".*task-rest_eeg\.edf", "classes": {"rest": 36}},
                          {"files": r".*task-arithmetic_eeg\.edf", "classes": {"arithmetic": 12}}]
    recipe = _bids_recipe(
        "physionet_eegmat", "eegmat_bids",
        r"sub-(?P<subject>\d+)/eeg/sub-\d+_task-(?P<task>[a-z]+)_eeg\.edf",
        labels=labels, expected=expected)
    spec = PreprocessSpec()
    bids = load_windows(recipe, tmp_path / "data", spec, tmp_path / "cache")
    direct = load_windows(direct_recipe, data_root, spec, tmp_path / "cache", subjects=subjects)
    # BIDS files sort by task name (arithmetic first), the direct recipe by run: align.
    order_b = bids.meta.sort_values(["subject", "label_name", "onset_s"]).index.to_numpy()
    order_d = direct.meta.sort_values(["subject", "label_name", "onset_s"]).index.to_numpy()
    assert len(order_b) == len(order_d) == 2 * (36 + 12)
    np.testing.assert_allclose(np.asarray(bids.X)[order_b], np.asarray(direct.X)[order_d],
                               rtol=1e-5, atol=1e-4)
    cols = ["subject", "label_name", "onset_s"]
    assert bids.meta.loc[order_b, cols].reset_index(drop=True).equals(
        direct.meta.loc[order_d, cols].reset_index(drop=True))
