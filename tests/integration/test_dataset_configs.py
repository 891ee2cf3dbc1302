"""Dataset configs compose, a new dataset needs only a recipe, and LOSO runs on a real dataset."""

from __future__ import annotations

import shutil
import textwrap
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from eegbench.data.cache import load_windows
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.resources import config_dir, recipes_dir

DATASET_CONFIGS = sorted(p.stem for p in (config_dir() / "dataset").glob("*.yaml"))


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides))


def test_every_recipe_has_a_dataset_config():
    recipes = sorted(p.stem for p in recipes_dir().glob("*.yaml"))
    assert len(recipes) >= 9 and set(recipes) <= set(DATASET_CONFIGS)


@pytest.mark.parametrize("name", DATASET_CONFIGS)
def test_dataset_config_composes_and_names_a_recipe(name):
    cfg = _compose(f"dataset={name}")
    if cfg.dataset.get("moabb") is not None:  # a MOABB dataset + paradigm (the bridge)
        from eegbench.data.bridges.moabb import check_node, dataset_class, paradigm_class

        check_node(cfg.dataset.moabb)
        dataset_class(cfg.dataset.moabb.dataset)
        paradigm_class(cfg.dataset.moabb.paradigm)
        assert cfg.dataset.name == name and cfg.dataset.task
        return
    if cfg.dataset.get("hub") is not None:  # a pinned hub dataset (the hub bridge)
        from eegbench.data.bridges.hub import check_node
        from eegbench.data.bridges.hub_pull import check_reference

        check_node(cfg.dataset.hub)
        check_reference(cfg.dataset.hub.repo_id, cfg.dataset.hub.revision)
        assert cfg.dataset.name == name and cfg.dataset.task and cfg.dataset.fixed_split.source
        return
    recipe = load_recipe(cfg.dataset.recipe)
    assert cfg.dataset.name == recipe.name == name and cfg.dataset.task
    for key in ("licence", "citation", "paradigm", "modality", "sensor_types"):
        assert recipe.raw.get(key), f"recipe {name} lacks {key}"
    assert recipe.source["base_url"].startswith("https://")
    assert recipe.expected.get("counts")


def test_new_muse_dataset_needs_only_a_recipe(data_root, tmp_path):
    """Another Muse CSV ERP recording with other event labels: a YAML file, no code."""
    src = data_root / "muse_visual_p300_eegnotebooks"
    runs = ["subject1/session1/data_2017-02-04-15_47_49.csv",
            "subject2/session1/data_2017-02-09-18.17.25.csv"]
    for i, rel in enumerate(runs, 1):
        dst = tmp_path / "data" / "my_oddball" / f"sub-{i:02d}" / "run1.csv"
        dst.parent.mkdir(parents=True)
        shutil.copyfile(src / rel, dst)
    recipe_path = tmp_path / "my_oddball.yaml"
    recipe_path.write_text(textwrap.dedent("""\
        name: my_oddball
        title: Muse auditory-style oddball (test)
        paradigm: erp
        modality: eeg
        sensor_types: [eeg]
        licence: BSD-3-Clause
        citation: test
        source:
          folder: my_oddball
          base_url: https://example.org/my_oddball/
          reader: csv
          pattern: 'sub-(?P<subject>\\d+)/(?P<run>run\\d+)\\.csv'
          csv: {channels: [TP9, AF7, AF8, TP10], marker_columns: [Marker, Marker0],
                stim_channel: STI}
        labels: {from: event, map: {"1": standard, "2": deviant}, classes: [standard, deviant]}
        channels: {pick: [AF7, AF8], types: {all: eeg}, montage: colin27_1005}
        sfreq: 256.0
        windows: {kind: events, events: {from: stim_channel, channel: STI}, tmin: 0.0,
                  tmax: 0.5}
        expected:
          counts: [{files: '.*', classes: {standard: [100, 200], deviant: [10, 60]}}]
        """))
    ds = load_windows(load_recipe(recipe_path), tmp_path / "data", PreprocessSpec(),
                      tmp_path / "cache")
    expected: Counter = Counter()
    for i, rel in enumerate(runs, 1):
        marker = pd.read_csv(src / rel)["Marker"]
        for code, n in marker[marker > 0].value_counts().items():
            expected[(f"{i:02d}", {1: "standard", 2: "deviant"}[code])] += n
    assert Counter(zip(ds.meta["subject"], ds.meta["label_name"], strict=True)) == expected
    assert ds.X.shape[1:] == (2, 64) and ds.info["ch_names"] == ["AF7", "AF8"]


def test_loso_runs_on_muse_p300(data_root, tmp_path):
    from eegbench.evaluation.job import run_experiment

    cfg = _compose("dataset=muse_visual_p300_eegnotebooks", "model=ts_lr",
                   f"paths.data_root={data_root}", f"paths.cache_dir={tmp_path / 'cache'}",
                   f"paths.runs_dir={tmp_path / 'runs'}")
    rows = run_experiment(cfg)
    assert sorted(r["test_subject"] for r in rows) == ["1", "2", "3", "4", "5"]
    assert all(0.0 <= r["metric.balanced_accuracy"] <= 1.0 for r in rows)


def test_loso_on_a_single_subject_dataset_is_a_clear_error(data_root, tmp_path):
    from eegbench.evaluation.job import run_experiment

    cfg = _compose("dataset=meg_elekta_3ch", "model=ts_lr", f"paths.data_root={data_root}",
                   f"paths.cache_dir={tmp_path / 'cache'}", f"paths.runs_dir={tmp_path / 'runs'}")
    with pytest.raises(ValueError, match="needs at least 3 subjects.*n_valid_subjects"):
        run_experiment(cfg)


def test_dataset_subset_by_config(data_root, tmp_path):
    cfg = _compose("dataset=ssvep_exo_kalunga2016", "dataset.subjects=[01,03]")
    ds = load_windows(load_recipe(cfg.dataset.recipe), data_root, PreprocessSpec(),
                      tmp_path, subjects=[str(s) for s in cfg.dataset.subjects])
    assert sorted(ds.meta["subject"].unique()) == ["01", "03"] and len(ds.X) == 64


def test_recipe_without_expected_counts_is_refused(tmp_path, data_root):
    raw = load_recipe("meg_elekta_3ch").raw
    from eegbench.data.recipe import Recipe, RecipeError

    with pytest.raises(RecipeError, match=r"Missing required key 'expected\.counts' in x\.yaml"):
        Recipe(name="x", raw={**raw, "expected": {}}, path=Path("x.yaml"))
