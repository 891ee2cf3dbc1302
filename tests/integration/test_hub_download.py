"""Pinned checkpoint downloads through a loopback Hugging Face Hub (no other address is used).

The server (``hub_server.py``) speaks the part of the Hub protocol ``hf_hub_download`` uses;
checkpoints are built here in the original repositories' layouts and loaded into the model,
whose features on real eegmat windows must equal those of the network they were taken from.
"""

from __future__ import annotations

import io
import logging
import socket

import numpy as np
import pytest
import torch
from hub_server import LoopbackHub

from eegbench.models import SignalSpec, build_model
from eegbench.models.weights.hub import HubReferenceError
from eegbench.models.weights.loading import WeightsError

SMALL = {"n_layer": 2, "dim_feedforward": 64, "nhead": 4}
COMMIT = "3f1c0d2a9b8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
OTHER = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
REPO = "wjq-learning/CBraMod"
FILE = "pretrained_weights/pretrained_weights.pth"


@pytest.fixture(scope="module")
def batch(eegmat):
    idx = np.r_[0:4, 40:44]
    return np.asarray(eegmat.X[idx], dtype=np.float32), SignalSpec.from_info(
        eegmat.info, eegmat.X.shape[-1])


@pytest.fixture(scope="module")
def original(batch):
    """A CBraMod encoder and its weights saved as the original repo does (DataParallel)."""
    _, signal = batch
    torch.manual_seed(3)
    ref = build_model("cbramod", arch_params=SMALL, adaptation="from_scratch").build(signal)
    state = {f"module.{k}": v for k, v in ref.encoder.net.state_dict().items()
             if not k.startswith("final_layer.")}
    buf = io.BytesIO()
    torch.save(state, buf)
    return ref.eval(), buf.getvalue()


@pytest.fixture()
def hub(tmp_path, monkeypatch, original):
    """The loopback hub with the checkpoint published at COMMIT; a fresh weights cache."""
    connected: list = []
    real_connect = socket.socket.connect

    def recording_connect(self, address):
        connected.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    with LoopbackHub() as server:
        sha = server.state.add_file(REPO, COMMIT, FILE, original[1])
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
        monkeypatch.setenv("EEGBENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        server.sha = sha
        yield server
    hosts = {a[0] for a in connected if isinstance(a, tuple)}
    assert hosts <= {"127.0.0.1"}, f"contacted {hosts}"


def _model(source, sha=None, **kw):
    return build_model("cbramod", arch_params=SMALL, adaptation="linear_probe",
                       checkpoint=source, checkpoint_sha256=sha, **kw)


def test_pinned_download_loads_the_original_layout(hub, batch, original, tmp_path):
    X, signal = batch
    loaded = _model(f"hf://{REPO}@{COMMIT}/{FILE}", hub.sha).build(signal).eval()
    x = torch.from_numpy(X)
    with torch.no_grad():
        assert torch.equal(loaded.forward_features(x), original[0].forward_features(x))
    cached = list((tmp_path / "weights" / "hub").rglob("pretrained_weights.pth"))
    assert cached and COMMIT in str(cached[0])
    assert ("HEAD", f"/{REPO}/resolve/{COMMIT}/{FILE}") in hub.state.requests


def test_unpinned_refused_unless_allowed(hub, batch, caplog):
    """A sha256 pins by content (any revision), a commit pins by revision; a bare branch is
    refused unless allow_unpinned, and then warned about."""
    _, signal = batch
    with pytest.raises(HubReferenceError, match="is not pinned: revision 'absent'"):
        _model(f"hf://{REPO}/{FILE}").build(signal)
    with pytest.raises(HubReferenceError, match="is not pinned: revision 'main'"):
        _model(f"hf://{REPO}@main/{FILE}").build(signal)
    with pytest.raises(HubReferenceError, match="checkpoint_sha256=<64 hex digits>"):
        _model(f"hf://{REPO}@v1.0/{FILE}").build(signal)
    assert hub.state.requests == []  # refused before any request
    with caplog.at_level(logging.WARNING):
        _model(f"hf://{REPO}/{FILE}", hub.sha).build(signal)  # content-pinned: default branch
        _model(f"hf://{REPO}@{COMMIT}/{FILE}").build(signal)  # revision-pinned
    assert "not pinned" not in caplog.text
    with caplog.at_level(logging.WARNING):
        module = _model(f"hf://{REPO}@main/{FILE}", allow_unpinned=True).build(signal)
    assert "is not pinned (revision main, no sha256)" in caplog.text
    assert module.encoder_frozen is False  # built, not yet fitted


def test_revision_mismatch(hub, batch):
    _, signal = batch
    hub.state.answer_commit = OTHER
    with pytest.raises(WeightsError, match=f"Revision mismatch.*{OTHER}.*{COMMIT}"):
        _model(f"hf://{REPO}@{COMMIT}/{FILE}", hub.sha).build(signal)


def test_unknown_revision_or_file_is_an_error(hub, batch):
    _, signal = batch
    with pytest.raises(WeightsError, match="Could not get.*RevisionNotFoundError.*does not "
                                           "exist"):
        _model(f"hf://{REPO}@{OTHER}/{FILE}", hub.sha).build(signal)
    with pytest.raises(WeightsError, match="Could not get.*EntryNotFoundError"):
        _model(f"hf://{REPO}@{COMMIT}/pretrained_weights/other.pth", hub.sha).build(signal)


def test_sha256_mismatch(hub, batch):
    _, signal = batch
    hub.state.tamper = True
    with pytest.raises(WeightsError, match="has sha256 .* but .* was expected"):
        _model(f"hf://{REPO}@{COMMIT}/{FILE}", hub.sha).build(signal)


def test_truncated_transfer(hub, batch, tmp_path):
    _, signal = batch
    hub.state.truncate = True
    with pytest.raises(WeightsError, match="Could not get.*(size|Consistency)"):
        _model(f"hf://{REPO}@{COMMIT}/{FILE}", hub.sha).build(signal)
    assert not list((tmp_path / "weights" / "hub").rglob("pretrained_weights.pth"))


def test_offline_mode_uses_the_warm_cache(hub, batch, original, monkeypatch):
    X, signal = batch
    source = f"hf://{REPO}@{COMMIT}/{FILE}"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsError, match="HF_HUB_OFFLINE is set"):
        _model(source, hub.sha).build(signal)
    assert hub.state.requests == []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    _model(source, hub.sha).build(signal)  # warm the cache
    n_requests = len(hub.state.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = _model(source, hub.sha).build(signal).eval()
    assert len(hub.state.requests) == n_requests  # no request at all
    with torch.no_grad():
        x = torch.from_numpy(X)
        assert torch.equal(loaded.forward_features(x), original[0].forward_features(x))


def test_registry_entry_with_sha256_is_content_pinned_and_verified(hub, batch, original):
    """known:<name> entries with a sha256 load from the default branch without any flag; the
    loopback file is not the published one, so the registry's sha256 refuses it."""
    _, signal = batch
    hub.state.add_file("braindecode/cbramod-pretrained", OTHER, "pytorch_model.bin",
                       original[1])
    with pytest.raises(WeightsError, match="has sha256 .* but 44616452.* was expected"):
        _model("known:cbramod-braindecode").build(signal)
    assert ("HEAD", "/braindecode/cbramod-pretrained/resolve/main/pytorch_model.bin") in \
        hub.state.requests
