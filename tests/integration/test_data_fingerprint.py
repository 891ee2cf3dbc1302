"""The data fingerprint follows the content a protocol sees, on real eegmat recordings.

Both directions: windows rebuilt by changed data code (a new cache entry) but bit-identical
keep the fingerprint, so their rows are reused and no "different data versions" warning is
raised; any change of the windows, labels, metadata or signal description gives a new one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from eegbench.data.cache import WindowsDataset
from eegbench.evaluation.identity import data_fingerprint
from eegbench.resources import config_dir

SUBJECTS = "[00,01,02,03]"


def _cfg(tmp_path: Path, data_root: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[
            f"paths.data_root={data_root}", f"paths.cache_dir={tmp_path / 'cache'}",
            f"paths.runs_dir={tmp_path / 'runs'}", "model=ts_lr",
            "dataset=physionet_eegmat", f"dataset.subjects={SUBJECTS}", *overrides])


def _run(cfg, caplog) -> str:
    from eegbench.evaluation.job import run_experiment

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="eegbench"):
        run_experiment(cfg)
    return caplog.text


def _manifests(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache").rglob("manifest.json"))


@pytest.mark.slow  # standardizes the windows three times
def test_identical_windows_from_changed_data_code_reuse_rows_without_a_warning(
        tmp_path, data_root, caplog, monkeypatch):
    import eegbench.data.cache as cache

    cfg = _cfg(tmp_path, data_root)
    assert "4 new fold(s), 0 skipped" in _run(cfg, caplog)
    store = tmp_path / "runs" / "default" / "results"
    first = {json.loads(p.read_text())["data_fingerprint"] for p in (store / "rows").glob(
        "[!.]*.json")}
    n_entries = len(_manifests(tmp_path))
    # the data code changes (a new cache key, the windows are standardized again) but it
    # produces the same windows
    code = cache.code_fingerprint()
    monkeypatch.setattr(cache, "code_fingerprint", lambda: f"{code}-edited")
    assert "0 new fold(s), 4 skipped" in _run(cfg, caplog)
    assert len(_manifests(tmp_path)) == n_entries + 1  # the windows were rebuilt
    rows = [json.loads(p.read_text()) for p in (store / "rows").glob("[!.]*.json")]
    assert len(rows) == 4 and {r["data_fingerprint"] for r in rows} == first
    from eegbench.leaderboard.__main__ import main

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        main(["--results", str(store), "--out", str(tmp_path / "lb"), "--name", "loso",
              "--no-plots"])
    assert "data versions" not in caplog.text
    assert "superseded" not in caplog.text
    # other windows (another band-pass) are another data version
    other = _cfg(tmp_path, data_root, "preprocess.h_freq=40.0")
    assert "4 new fold(s), 0 skipped" in _run(other, caplog)
    rows = [json.loads(p.read_text()) for p in (store / "rows").glob("[!.]*.json")]
    assert len({r["data_fingerprint"] for r in rows}) == 2


def test_the_fingerprint_changes_with_what_a_protocol_sees_and_only_with_that(eegmat):
    ds = WindowsDataset(eegmat.X[:200], eegmat.meta.iloc[:200].reset_index(drop=True),
                        dict(eegmat.info))
    reference = data_fingerprint(ds)
    # the same content: a copy of the windows, another cache entry, other file names
    same = WindowsDataset(np.array(ds.X, copy=True), ds.meta.assign(source="elsewhere.edf"),
                          {**ds.info, "key": "another-cache-entry", "files": {"x.edf": "0"}})
    assert data_fingerprint(same) == reference
    # one sample of one window
    x = np.array(ds.X, copy=True)
    x[7, 3, 11] = np.nextafter(x[7, 3, 11], np.inf)
    changed = {"one sample": WindowsDataset(x, ds.meta, ds.info)}
    # one label, one onset, one subject id
    for column, value in (("label", 1 - int(ds.meta["label"].iloc[0])),
                          ("onset_s", float(ds.meta["onset_s"].iloc[0]) + 0.5),
                          ("subject", "99")):
        meta = ds.meta.copy()
        meta.loc[0, column] = value
        changed[column] = WindowsDataset(ds.X, meta, ds.info)
    changed["a window less"] = WindowsDataset(ds.X[1:], ds.meta.iloc[1:], ds.info)
    changed["sampling rate"] = WindowsDataset(ds.X, ds.meta, {**ds.info,
                                                              "sfreq": ds.info["sfreq"] * 2})
    changed["channel names"] = WindowsDataset(ds.X, ds.meta, {
        **ds.info, "ch_names": [*ds.info["ch_names"][1:], ds.info["ch_names"][0]]})
    changed["float64"] = WindowsDataset(ds.X.astype(np.float64), ds.meta, ds.info)
    prints = {name: data_fingerprint(d) for name, d in changed.items()}
    assert reference not in prints.values(), prints
    assert len(set(prints.values())) == len(prints)
