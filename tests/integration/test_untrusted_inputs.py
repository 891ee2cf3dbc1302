"""Configuration and files from outside never name code or pass unchecked (real data where
data matter): MOABB class names, recipe templates, hub references, cache manifests, result
stores and the Markdown built from rows."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import read_only_view
from hydra import compose, initialize_config_dir

from eegbench.data.recipe import RecipeError, load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.resources import config_dir

MEG = "meg_elekta_3ch"  # the smallest real recording (cache built in about a second)


def _cfg(tmp_path: Path, data_root: Path, cache_dir: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[
            f"paths.data_root={data_root}", f"paths.cache_dir={cache_dir}",
            f"paths.runs_dir={tmp_path / 'runs'}", *overrides])


# -- MOABB classes by name only --------------------------------------------------------------
@pytest.mark.parametrize("node, message", [
    ({"dataset": "subprocess:run", "paradigm": "LeftRightImagery"},
     r"'dataset\.moabb\.dataset' parameter: 'subprocess:run' names code to import"),
    ({"dataset": "os.system", "paradigm": "LeftRightImagery"}, r"'os\.system' names code"),
    ({"dataset": "PhysionetMI", "paradigm": "moabb.paradigms.LeftRightImagery"},
     r"'dataset\.moabb\.paradigm' parameter: 'moabb\.paradigms\.LeftRightImagery' names code"),
    ({"dataset": {"_target_": "subprocess.run"}, "paradigm": "LeftRightImagery"},
     r"expected a class name, but got dict"),
    ({"dataset": "PhysionetMI", "paradigm": "LeftRightImagery",
      "dataset_params": {"imagined": {"_target_": "subprocess.run"}}},
     r"'dataset\.moabb\.dataset_params\.imagined' parameter: keyword arguments must be plain"),
    ({"dataset": "PhysionetMI", "paradigm": "LeftRightImagery",
      "paradigm_params": {"_target_": "subprocess.run"}},
     r"'dataset\.moabb\.paradigm_params\._target_' parameter"),
])
def test_moabb_selections_that_name_code_are_refused(node, message, tmp_path):
    pytest.importorskip("moabb")
    from eegbench.data.bridges.moabb import load_moabb

    with pytest.raises(RecipeError, match=message):
        load_moabb(node, PreprocessSpec(), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_a_plugin_registers_its_moabb_dataset_through_an_entry_point(tmp_path, monkeypatch):
    pytest.importorskip("moabb")
    import importlib

    from eegbench.data.bridges.moabb import DATASET_PLUGIN_GROUP, dataset_class

    site = tmp_path / "site"
    (site / "eegbench_moabb_plugin-0.1.dist-info").mkdir(parents=True)
    (site / "eegbench_moabb_plugin-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: eegbench-moabb-plugin\nVersion: 0.1\n")
    (site / "eegbench_moabb_plugin-0.1.dist-info" / "entry_points.txt").write_text(
        f"[{DATASET_PLUGIN_GROUP}]\nLocalPhysionetMI = eegbench_moabb_plugin:LocalPhysionetMI\n"
        "NotADataset = eegbench_moabb_plugin:helper\n")
    (site / "eegbench_moabb_plugin.py").write_text(
        "from moabb.datasets import PhysionetMI\n\n\nclass LocalPhysionetMI(PhysionetMI):\n"
        "    '''PhysionetMI from a local copy.'''\n\n\ndef helper():\n    return None\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    cls = dataset_class("LocalPhysionetMI")
    assert cls.__name__ == "LocalPhysionetMI" and cls.__module__ == "eegbench_moabb_plugin"
    with pytest.raises(RecipeError, match=r"'NotADataset' of group 'eegbench\.moabb_datasets' "
                                          r".* is not a subclass of moabb"):
        dataset_class("NotADataset")
    with pytest.raises(RecipeError, match=r"Allowed values are .*'LocalPhysionetMI'"):
        dataset_class("eegbench_moabb_plugin:LocalPhysionetMI")


# -- recipe companion templates: plain {field} names only ------------------------------------
@pytest.mark.parametrize("template", ["subject{subject.__class__.__mro__}/x-eve.fif",
                                      "subject{subject[0]}/x-eve.fif",
                                      "subject{subject!r}/x-eve.fif"])
def test_companion_templates_cannot_reach_python_objects(template, tmp_path):
    raw = yaml.safe_load(load_recipe("ssvep_exo_kalunga2016").path.read_text())
    raw["source"]["companions"]["events"] = template
    path = tmp_path / "ssvep_exo_kalunga2016.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecipeError, match=r"companions.*not a plain \{name\} field"):
        load_recipe(path)


def test_the_shipped_companion_templates_still_resolve(data_root):
    recipe = load_recipe("ssvep_exo_kalunga2016")
    found = recipe.discover(data_root)
    assert found and all(s.companion("events").path.is_file() for s in found)


# -- hub references --------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["\n", "\r", "\t", "\x00", "\u200b"])
def test_hub_references_with_control_characters_are_refused(suffix):
    from eegbench.models.weights.hub import HubReferenceError, parse_hub_reference

    good = f"hf://braindecode/labram-pretrained@{'0' * 40}/model.safetensors"
    assert parse_hub_reference(good).filename == "model.safetensors"
    with pytest.raises(HubReferenceError, match="control or invisible character"):
        parse_hub_reference(good + suffix)
    with pytest.raises(HubReferenceError, match="control or invisible character"):
        parse_hub_reference(good.replace("model", f"mo{suffix}del"))


# -- cache manifests -------------------------------------------------------------------------
def _meg(data_root: Path, cache: Path):
    from eegbench.data.cache import load_windows

    return load_windows(load_recipe(MEG), data_root, PreprocessSpec(), cache)


def test_a_forged_cache_manifest_with_a_recomputed_checksum_is_rebuilt(data_root, tmp_path,
                                                                       caplog):
    from eegbench.data.cache import manifest_digest
    from eegbench.hashing import sha256_of

    ds = _meg(data_root, tmp_path / "cache")
    entry = Path(ds.info["cache_entry"])
    original = np.array(ds.X)
    del ds
    # an edited sampling rate, self-checksum recomputed
    manifest = json.loads((entry / "manifest.json").read_text())
    manifest["sfreq"] = manifest["sfreq"] * 2
    manifest["manifest_sha256"] = manifest_digest(manifest)
    (entry / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.WARNING, logger="eegbench"):
        again = _meg(data_root, tmp_path / "cache")
    assert "not signed by the recordings" in caplog.text and "rebuilding" in caplog.text
    assert again.info["sfreq"] * 2 == manifest["sfreq"]
    del again
    # other windows, with their sha256, size and the manifest's checksum all recomputed
    np.save(entry / "X.npy", np.zeros_like(original))
    manifest = json.loads((entry / "manifest.json").read_text())
    manifest["file_sha256"]["X.npy"] = sha256_of(entry / "X.npy")
    manifest["file_bytes"]["X.npy"] = (entry / "X.npy").stat().st_size
    manifest["manifest_sha256"] = manifest_digest(manifest)
    (entry / "manifest.json").write_text(json.dumps(manifest))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="eegbench"):
        rebuilt = _meg(data_root, tmp_path / "cache")
    assert "not signed by the recordings" in caplog.text
    np.testing.assert_array_equal(rebuilt.X, original)


def test_a_valid_cache_entry_is_used_without_rebuilding(data_root, tmp_path, caplog):
    _meg(data_root, tmp_path / "cache")
    with caplog.at_level(logging.INFO, logger="eegbench"):
        _meg(data_root, tmp_path / "cache")
    assert "using cache entry" in caplog.text and "rebuilding" not in caplog.text


# -- results stores and the leaderboard ------------------------------------------------------
@pytest.fixture
def eegmat_store(tmp_path, data_root, cache_root) -> Path:
    """ts_lr, leave-one-subject-out on 4 real eegmat subjects; returns the results store."""
    from eegbench.evaluation.job import run_experiment

    run_experiment(_cfg(tmp_path, data_root, cache_root, "model=ts_lr",
                        "dataset=physionet_eegmat", "dataset.subjects=[00,01,02,03]"))
    return tmp_path / "runs" / "default" / "results"  # runs without +exp


def test_names_in_rows_cannot_open_markdown_blocks(eegmat_store, tmp_path):
    from eegbench.leaderboard.__main__ import main

    for path in sorted((eegmat_store / "rows").glob("*.json")):
        row = json.loads(path.read_text())
        row["dataset"] = "<script>alert(1)</script>"
        row["task"] = "rest\n# injected heading\n<b>bold</b>"
        path.write_text(json.dumps(row))
    main(["--results", str(eegmat_store), "--out", str(tmp_path / "board"), "--name", "loso",
          "--no-plots"])
    text = (tmp_path / "board" / "loso.md").read_text()
    assert "&lt;script>alert(1)&lt;/script> / rest # injected heading &lt;b>bold&lt;/b>" in text
    assert "<script>" not in text and "<b>" not in text
    assert not any(line.startswith("# injected") for line in text.splitlines())


def test_leaderboard_on_a_folder_that_is_not_a_store_fails_and_creates_nothing(tmp_path,
                                                                               caplog):
    from eegbench.leaderboard.__main__ import main

    missing, out = tmp_path / "no_such_store", tmp_path / "board"
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit) as exit_info:
        main(["--results", str(missing), "--out", str(out)])
    assert exit_info.value.code == 1 and f"{missing} is not a results store" in caplog.text
    assert not missing.exists() and not out.exists()
    (tmp_path / "runs").mkdir()  # the runs folder instead of runs/results
    caplog.clear()
    with caplog.at_level(logging.ERROR), pytest.raises(SystemExit):
        main(["--results", str(tmp_path / "runs"), "--out", str(out)])
    assert "holds no rows/ folder" in caplog.text and not (tmp_path / "runs" / "rows").exists()


def test_a_read_only_results_store_fails_before_the_data_are_loaded(tmp_path, data_root):
    from eegbench.evaluation.job import run_experiment
    from eegbench.results.store import ResultStore

    ResultStore(tmp_path / "results")
    cache = tmp_path / "cache"
    with read_only_view(tmp_path / "results", tmp_path) as store:
        cfg = _cfg(tmp_path, data_root, cache, "model=ts_lr", "dataset=physionet_eegmat",
                   "dataset.subjects=[00,01,02,03]", f"paths.results_dir={store}")
        with pytest.raises(PermissionError, match=r"results store .* is not writable"):
            run_experiment(cfg)
    assert not cache.exists() or not any(cache.rglob("*.npy"))  # no data were loaded
