"""The Hugging Face dataset bridge on real eegmat windows served by a loopback Hub (127.0.0.1).

The windows of the direct recipe (four eegmat subjects) are written in braindecode's hub layout
by braindecode's own ``push_to_hub`` (its upload replaced by publishing the folder it built into
the loopback hub), pulled through the bridge at a pinned commit, and compared with the direct
windows and with what braindecode's own ``pull_from_hub`` serves.
"""

from __future__ import annotations

import socket
from pathlib import Path

import mne
import numpy as np
import pandas as pd
import pytest
from hub_server import LoopbackHub

from eegbench._compat import ensure_torchaudio
from eegbench.data.bridges.hub import load_hub
from eegbench.data.bridges.hub_pull import HubPullError, hub_cache_dir, pull_snapshot
from eegbench.data.cache import load_windows
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.protocols.registry import make_splitter

ensure_torchaudio()
from braindecode.datasets import (  # noqa: E402 - after the torchaudio stub
    BaseConcatDataset,
    EEGWindowsDataset,
    WindowsDataset,
)

REPO = "braindecode/arithmetic_zyma2019"
COMMIT = "8359206e7e1b3d1f068033348e291d6677be1920"
SECOND = "1111111111111111111111111111111111111111"
THIRD = "2222222222222222222222222222222222222222"
OTHER = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
SUBJECTS = ["00", "01", "02", "03"]
CLASSES = ["rest", "arithmetic"]
COLUMNS = ["subject", "session", "run", "label", "label_name", "onset_s"]


@pytest.fixture(scope="module")
def direct(data_root, cache_root):
    """The windows of the direct recipe (eegmat, four subjects, default preprocessing)."""
    return load_windows(load_recipe("physionet_eegmat"), data_root, PreprocessSpec(),
                        cache_root, subjects=SUBJECTS)


def _braindecode_dataset(ds, windowed: bool) -> BaseConcatDataset:
    """One braindecode recording per eegmat file: the direct windows, in volts (MNE's unit)."""
    info = mne.create_info(ds.info["ch_names"], ds.info["sfreq"], ds.info["ch_types"])
    n_times = ds.X.shape[-1]
    recordings = []
    groups = ds.meta.groupby(["subject", "session", "run"], sort=False).indices
    for (subject, session, run), idx in groups.items():
        volts = np.asarray(ds.X[idx], dtype=np.float64) * 1e-6
        starts = np.round(ds.meta["onset_s"].to_numpy()[idx] * ds.info["sfreq"]).astype(int)
        metadata = pd.DataFrame({"i_window_in_trial": np.arange(len(idx)),
                                 "i_start_in_trial": starts, "i_stop_in_trial": starts + n_times,
                                 "target": ds.meta["label"].to_numpy()[idx]})
        description = pd.Series({"subject": subject, "session": session, "run": run})
        if windowed:
            events = np.c_[starts, np.zeros(len(idx), int), metadata["target"] + 1]
            epochs = mne.EpochsArray(volts, info, events=events, metadata=metadata,
                                     verbose="error")
            recordings.append(WindowsDataset(epochs, description))
        else:  # one continuous recording holding the windows at their onsets
            signal = np.zeros((volts.shape[1], int(starts.max()) + n_times))
            for window, start in zip(volts, starts, strict=True):
                signal[:, start:start + n_times] = window
            raw = mne.io.RawArray(signal, info, verbose="error")
            recordings.append(EEGWindowsDataset(raw, metadata, description))
    return BaseConcatDataset(recordings)


def _push(concat: BaseConcatDataset) -> dict[str, bytes]:
    """The files braindecode's push_to_hub uploads (its upload captured, nothing sent)."""
    import huggingface_hub

    files: dict[str, bytes] = {}

    def upload(self, repo_id, folder_path, repo_type, **kwargs):
        assert repo_type == "dataset"
        root = Path(folder_path)
        files.update({p.relative_to(root).as_posix(): p.read_bytes()
                      for p in sorted(root.rglob("*")) if p.is_file()})
        return f"loopback/{repo_id}"

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(huggingface_hub.HfApi, "create_repo", lambda self, **kw: None)
        # what braindecode 1.8.1 calls (huggingface_hub 2.x no longer has the method)
        mp.setattr(huggingface_hub.HfApi, "upload_large_folder", upload, raising=False)
        concat.push_to_hub(REPO)
    return files


@pytest.fixture(scope="module")
def published(direct):
    """braindecode hub-format files of the direct windows: pre-cut and raw-backed layouts."""
    return {"WindowsDataset": _push(_braindecode_dataset(direct, windowed=True)),
            "EEGWindowsDataset": _push(_braindecode_dataset(direct, windowed=False))}


@pytest.fixture()
def hub(tmp_path, monkeypatch, published):
    """The loopback hub with the raw-backed layout at COMMIT; fresh hub and window caches."""
    connected: list = []
    real_connect = socket.socket.connect

    def recording_connect(self, address):
        connected.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    with LoopbackHub() as server:
        for path, data in published["EEGWindowsDataset"].items():
            server.state.add_file(REPO, COMMIT, path, data)
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
        monkeypatch.delenv("HF_HUB_CACHE", raising=False)
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        server.cache = tmp_path / "cache"
        yield server
    hosts = {a[0] for a in connected if isinstance(a, tuple)}
    assert hosts <= {"127.0.0.1"}, f"contacted {hosts}"


def _node(**change):
    return {"repo_id": REPO, "revision": COMMIT, "classes": CLASSES, **change}


def _assert_same_windows(pulled, direct):
    assert pulled.X.shape == direct.X.shape and pulled.X.dtype == np.float32
    # stored in volts as float32 (MNE's unit), read back in microvolts: within one float32 step
    np.testing.assert_array_max_ulp(np.asarray(pulled.X), np.asarray(direct.X), maxulp=1)
    pd.testing.assert_frame_equal(pulled.meta[COLUMNS], direct.meta[COLUMNS])
    assert pulled.classes == direct.classes == CLASSES
    assert pulled.info["ch_names"] == direct.info["ch_names"]
    assert pulled.info["sfreq"] == direct.info["sfreq"]


def test_pull_gives_the_windows_of_the_direct_recipe(hub, direct):
    pulled = load_hub(_node(), hub.cache, name="hub_test")
    _assert_same_windows(pulled, direct)
    assert pulled.info["hub"]["commit"] == COMMIT and pulled.info["hub"]["filled"] == []
    assert ("GET", f"/api/datasets/{REPO}/revision/{COMMIT}") in hub.state.requests
    # exactly the windows braindecode's own pull_from_hub serves, in microvolts
    theirs = BaseConcatDataset.pull_from_hub(REPO, revision=COMMIT,
                                             cache_dir=hub_cache_dir())
    X = np.stack([theirs[i][0] for i in range(len(theirs))])
    assert np.array_equal(np.asarray(pulled.X), (X.astype(np.float64) * 1e6).astype(np.float32))
    assert [theirs[i][1] for i in range(len(theirs))] == pulled.meta["label"].tolist()
    table = theirs.get_metadata()
    for column in ("subject", "session", "run"):
        assert table[column].astype(str).tolist() == pulled.meta[column].tolist()
    # a second job: the cache entry is reused, no file is transferred again
    n_cdn = sum(path.startswith("/cdn/") for _, path in hub.state.requests)
    again = load_hub(_node(), hub.cache, name="hub_test", subjects=["01", "03"])
    assert sum(path.startswith("/cdn/") for _, path in hub.state.requests) == n_cdn
    assert again.info["cache_entry"] == pulled.info["cache_entry"]
    assert sorted(set(again.meta["subject"])) == ["01", "03"]


def test_offline_mode_uses_the_warm_cache(hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(HubPullError, match="HF_HUB_OFFLINE is set"):
        load_hub(_node(), hub.cache, name="hub_test")
    assert hub.state.requests == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    online = load_hub(_node(), hub.cache, name="hub_test")
    n_requests = len(hub.state.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = load_hub(_node(), hub.cache, name="hub_test")
    assert len(hub.state.requests) == n_requests  # no request at all
    assert offline.info["key"] == online.info["key"]


def test_precut_layout_gives_the_same_windows(hub, direct, published):
    for path, data in published["WindowsDataset"].items():
        hub.state.add_file(REPO, SECOND, path, data)
    _assert_same_windows(load_hub(_node(revision=SECOND), hub.cache, name="hub_test"), direct)


def test_every_protocol_applies_to_the_pulled_windows(hub):
    meta = load_hub(_node(), hub.cache, name="hub_test").meta
    folds = list(make_splitter("loso", n_valid_subjects=1).split(meta))
    assert sorted(f.test_subjects[0] for f in folds) == SUBJECTS
    split = {"source": "test", "train": ["00", "01"], "valid": ["02"], "test": ["03"]}
    (fold,) = make_splitter("fixed_split", split=split).split(meta)
    assert set(meta["subject"].iloc[fold.test]) == {"03"}
    assert len(fold.train) + len(fold.valid) + len(fold.test) == len(meta)
    by_run = {"source": "test", "key": "run", "train": ["1"], "valid_fraction": 0.25,
              "test": ["2"]}
    (fold,) = make_splitter("fixed_split", split=by_run).split(meta)
    assert set(meta["run"].iloc[fold.test]) == {"2"}
    assert set(meta["run"].iloc[np.r_[fold.train, fold.valid]]) == {"1"}
    assert len(set(meta["subject"].iloc[fold.valid])) == 1  # a quarter of the four subjects
    meta = meta.assign(duration_s=5.0)  # as the job adds it (evaluation.plan.split_meta)
    within = list(make_splitter("blocked_kfold", n_folds=3).split(meta))
    assert within and all(len(set(meta["subject"].iloc[f.test])) == 1 for f in within)


@pytest.mark.parametrize("revision", [None, "main", "v1.0", COMMIT[:12]])
def test_unpinned_revision_is_refused_before_any_request(hub, revision):
    with pytest.raises(HubPullError, match="must be pinned to a full 40-hex commit"):
        load_hub(_node(revision=revision), hub.cache, name="hub_test")
    assert hub.state.requests == []


def test_revision_mismatch_names_both_commits(hub):
    hub.state.answer_commit = OTHER
    with pytest.raises(HubPullError, match=f"Revision mismatch.*{COMMIT}.*resolves it to "
                                           f"{OTHER}"):
        load_hub(_node(), hub.cache, name="hub_test")
    assert not any(path.startswith("/cdn/") for _, path in hub.state.requests)


def test_truncated_or_corrupt_transfer_is_an_error(hub):
    hub.state.truncate = True
    with pytest.raises(HubPullError, match="Could not pull hub dataset .*Consistency check "
                                           "failed: file should be of size"):
        load_hub(_node(), hub.cache, name="hub_test")
    assert not (hub.cache / "hub_test").exists() or not any((hub.cache / "hub_test").iterdir())
    hub.state.truncate, hub.state.tamper = False, True
    with pytest.raises(HubPullError, match="sha256 .* but the repository lists"):
        load_hub(_node(), hub.cache, name="hub_test")


def test_unknown_commit_is_an_error(hub):
    with pytest.raises(HubPullError, match="RevisionNotFound.*does not exist there"):
        load_hub(_node(revision=OTHER), hub.cache, name="hub_test")


def test_cache_key_follows_the_content(hub, published, tmp_path):
    first = load_hub(_node(), hub.cache, name="hub_test")
    files = dict(published["EEGWindowsDataset"])
    tsv = "sourcedata/braindecode/dataset.zarr/recording_0/metadata.tsv"
    frame = pd.read_csv(pd.io.common.BytesIO(files[tsv]), sep="\t", index_col=0)
    frame.loc[frame.index[0], "target"] = 1 - frame["target"].iloc[0]  # one label changed
    files[tsv] = frame.to_csv(sep="\t").encode()
    for path, data in files.items():
        hub.state.add_file(REPO, THIRD, path, data)
    second = load_hub(_node(revision=THIRD), hub.cache, name="hub_test")
    assert second.info["key"] != first.info["key"]
    assert second.meta["label"].iloc[0] != first.meta["label"].iloc[0]
    assert (second.meta["label"].iloc[1:] == first.meta["label"].iloc[1:]).all()
    # a local folder (a path instead of a repository id) reads the same files in place
    snapshot = pull_snapshot(REPO, COMMIT)
    local = load_hub({"repo_id": str(snapshot.folder), "classes": CLASSES}, tmp_path / "c2",
                     name="hub_test")
    np.testing.assert_array_equal(np.asarray(local.X), np.asarray(first.X))
    assert local.info["hub"]["commit"] is None and local.info["key"] != first.info["key"]


def test_shipped_config_runs_a_fixed_split_job_through_the_loopback_hub(hub, tmp_path,
                                                                         monkeypatch):
    """``dataset=hub_arithmetic_zyma2019`` pulls its pinned commit from ``HF_ENDPOINT``; the
    loopback copy holds four subjects, so the published lists are narrowed to them."""
    import json

    from eegbench.__main__ import main

    monkeypatch.setenv("EEGBENCH_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("EEGBENCH_CACHE_DIR", str(hub.cache))
    status = main(["dataset=hub_arithmetic_zyma2019", "protocol=fixed_split", "model=ts_lr",
                   "dataset.fixed_split.train=[00,01]", "dataset.fixed_split.valid=[02]",
                   "dataset.fixed_split.test=[03]", "trainer.num_threads=1"])
    assert status == 0
    rows = [json.loads(p.read_text()) for p in (tmp_path / "runs").rglob("*.json")]
    rows = [r for r in rows if "metrics" in r]
    assert len(rows) == 1 and rows[0]["dataset"] == "hub_arithmetic_zyma2019"
    # subject 03 (48 windows) tested; a classical pipeline trains on 00-02 (no early stopping)
    assert rows[0]["n_test"] == 48 and rows[0]["fit_report"]["train_subjects"] == SUBJECTS[:3]
    assert 0 <= rows[0]["metrics"]["balanced_accuracy"] <= 1
    assert rows[0]["config"]["dataset"]["hub"]["revision"] == COMMIT
