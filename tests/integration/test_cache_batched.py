"""Cross-file batched ``gpu_fused`` cache builds on real recordings (eegbench.data.batched)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from eegbench.data import batched
from eegbench.data.batched import iter_batches, iter_standardized
from eegbench.data.cache import cache_key, load_windows
from eegbench.data.readers import read_recording
from eegbench.data.recipe import RecipeError, load_recipe
from eegbench.data.standardize import PreprocessSpec, standardize_file

EEGMAT_SUBJECTS = ["00", "01", "04", "10"]  # rest lengths 182, 182, 170 and 188 s


def _per_file(recipe, sources, spec):
    """The file-by-file path: read, standardize_file, concatenate (as the cache did)."""
    parts, rows = [], []
    for source in sources:
        raw, warnings = read_recording(source, recipe)
        windows, file_rows, _ = standardize_file(source, raw, recipe, spec, warnings)
        parts.append(windows)
        rows.extend(file_rows)
    return np.concatenate(parts), pd.DataFrame(rows)


def _assert_close(actual, expected, rtol):
    assert actual.shape == expected.shape
    rms = np.sqrt(np.mean(np.square(expected, dtype=np.float64)))
    err = np.abs(actual.astype(np.float64) - expected).max() / rms
    assert err < rtol, f"max abs error {err:.2e} of the RMS (limit {rtol:.0e})"


@pytest.mark.parametrize(
    ("recipe_name", "subjects", "limits"),
    [
        # 8 recordings of two lengths, 3 per batch: batches mix subjects and lengths.
        ("physionet_eegmat", EEGMAT_SUBJECTS, {"batch_max_files": 3}),
        # event windows; ~4 recordings per batch by the sample bound (8 ch x ~40k samples).
        ("ssvep_exo_kalunga2016", None, {"batch_max_samples": 1_300_000}),
    ],
)
def test_batched_cache_equals_per_file_and_is_close_to_mne(
    data_root, tmp_path, recipe_name, subjects, limits
):
    recipe = load_recipe(recipe_name)
    fused = PreprocessSpec(backend="gpu_fused", device="cpu", **limits)
    sources = [s for s in recipe.discover(data_root) if subjects is None or s.subject in subjects]
    n_batches = len(list(iter_batches(recipe, sources, fused)))
    assert 1 < n_batches < len(sources)

    ds = load_windows(recipe, data_root, fused, tmp_path, subjects=subjects)
    X_file, meta_file = _per_file(recipe, sources, fused)
    pd.testing.assert_frame_equal(ds.meta.reset_index(drop=True), meta_file, check_dtype=False)
    _assert_close(np.asarray(ds.X), X_file, 1e-4)

    mne_ds = load_windows(recipe, data_root, dataclasses.replace(fused, backend="mne"),
                          tmp_path, subjects=subjects)
    pd.testing.assert_frame_equal(ds.meta, mne_ds.meta)
    _assert_close(np.asarray(ds.X), np.asarray(mne_ds.X), 1e-4)
    assert ds.info["ch_names"] == mne_ds.info["ch_names"]
    assert ds.info["sfreq"] == mne_ds.info["sfreq"] == 128.0


def test_batch_limits_are_execution_settings_not_cache_key(data_root):
    recipe = load_recipe("physionet_eegmat")
    files = {"a": "0" * 64}
    base = PreprocessSpec(backend="gpu_fused")
    assert cache_key(recipe, files, base) == cache_key(
        recipe, files, dataclasses.replace(base, batch_max_files=1, batch_max_samples=10))
    assert cache_key(recipe, files, base) != cache_key(
        recipe, files, dataclasses.replace(base, backend="mne"))
    with pytest.raises(ValueError, match="batch_max_files"):
        next(iter_batches(recipe, recipe.discover(data_root)[:1],
                          dataclasses.replace(base, batch_max_files=0)))


def _bad_reader(bad_name, damage):
    def read(source, recipe):
        raw, warnings = read_recording(source, recipe)
        if source.path.name == bad_name:
            damage(raw)
        return raw, warnings
    return read


def _nan(raw):
    raw._data[3, 1000:1010] = np.nan


def _crop(raw):
    raw.crop(0.0, 100.0)  # a rest recording cut to 100 s: 20 windows instead of 36


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_nan, r"Subject01_1\.edf: 10 non-finite .* first in channel 'F4'"),
        (_crop, r"Subject01_1\.edf: windows per class \{'rest': 20\} do not match"),
    ],
)
def test_bad_file_inside_a_batch_raises_its_own_error(data_root, monkeypatch, damage, message):
    """Checks before (NaN) and after (window counts) the fused pass name the bad file."""
    recipe = load_recipe("physionet_eegmat")
    sources = [s for s in recipe.discover(data_root) if s.subject in {"00", "01"}]
    monkeypatch.setattr(batched, "read_recording", _bad_reader("Subject01_1.edf", damage))
    spec = PreprocessSpec(backend="gpu_fused", device="cpu", batch_max_files=4)
    with pytest.raises(RecipeError, match=message):
        list(iter_standardized(recipe, sources, spec))
