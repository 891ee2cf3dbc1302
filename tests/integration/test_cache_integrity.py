"""The window cache: content-addressed, memory-mapped, and rebuilt when damaged (real MEG file)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eegbench.data.cache import cache_key, entry_problem, load_windows
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec

NAME = "meg_elekta_3ch"  # the smallest real recording: each (re)build takes ~1 s


@pytest.fixture
def built(data_root, tmp_path):
    recipe = load_recipe(NAME)
    ds = load_windows(recipe, data_root, PreprocessSpec(), tmp_path)
    entry = Path(ds.info["cache_entry"])
    return recipe, entry, np.array(ds.X), ds.meta.copy()


def _reload(recipe, data_root, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="eegbench"):
        return load_windows(recipe, data_root, PreprocessSpec(), tmp_path)


def test_reuse_is_memory_mapped_and_identical(built, data_root, tmp_path, caplog):
    recipe, entry, X, meta = built
    ds = _reload(recipe, data_root, tmp_path, caplog)
    assert "using cache entry" in caplog.text and "rebuilding" not in caplog.text
    assert isinstance(ds.X, np.memmap) and ds.X.mode == "r"
    np.testing.assert_array_equal(ds.X, X)
    assert ds.meta.equals(meta)


@pytest.mark.parametrize("damage", ["truncate_x", "corrupt_x", "delete_manifest",
                                    "truncate_meta", "garbage_manifest"])
def test_damaged_entry_is_detected_and_rebuilt(built, data_root, tmp_path, caplog, damage):
    recipe, entry, X, meta = built
    x_path = entry / "X.npy"
    if damage == "truncate_x":
        x_path.write_bytes(x_path.read_bytes()[: x_path.stat().st_size // 2])
    elif damage == "corrupt_x":  # same size, some bytes changed: only the sha256 can tell
        raw = bytearray(x_path.read_bytes())
        raw[-100:-90] = b"\x7f" * 10
        x_path.write_bytes(bytes(raw))
    elif damage == "delete_manifest":
        (entry / "manifest.json").unlink()
    elif damage == "truncate_meta":
        (entry / "meta.csv").write_text((entry / "meta.csv").read_text()[:200])
    else:
        (entry / "manifest.json").write_text("{not json")
    assert entry_problem(entry) is not None
    ds = _reload(recipe, data_root, tmp_path, caplog)
    assert "partial or corrupt" in caplog.text and "rebuilding" in caplog.text
    assert entry_problem(entry) is None
    np.testing.assert_array_equal(ds.X, X)
    assert ds.meta.equals(meta)


def test_stale_partial_build_is_removed(built, data_root, tmp_path, caplog):
    recipe, entry, _, _ = built
    stale = entry.parent / f".{entry.name}.killed"
    stale.mkdir()
    (stale / "part00000.npy").write_bytes(b"half")
    (entry / "manifest.json").unlink()
    _reload(recipe, data_root, tmp_path, caplog)
    assert not stale.exists()


def test_key_depends_on_recipe_files_preprocessing(built):
    recipe, entry, _, _ = built
    manifest = json.loads((entry / "manifest.json").read_text())
    files = manifest["files"]
    spec = PreprocessSpec()
    assert cache_key(recipe, files, spec) == entry.name
    assert cache_key(recipe, files, replace(spec, h_freq=40.0)) != entry.name
    assert cache_key(recipe, {k: "0" * 64 for k in files}, spec) != entry.name
    other = replace(recipe, raw={**recipe.raw, "windows": {**recipe.windows, "tmax": 0.5}})
    assert cache_key(other, files, spec) != entry.name
    assert manifest["code"] and manifest["ch_types"] == ["mag", "grad", "grad"]
