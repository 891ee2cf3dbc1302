"""Checkpoints never execute code, and every ``hf://`` form is resolved or refused clearly."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from eegbench.models import SignalSpec, build_model
from eegbench.models.weights.hub import HubReferenceError, parse_hub_reference
from eegbench.models.weights.loading import UnsafeCheckpointError, read_state_dict, save_checkpoint

SMALL = {"n_layer": 2, "dim_feedforward": 64, "nhead": 4}


class _Payload:
    """Unpickling this calls os.system(...), which would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def signal(eegmat):
    return SignalSpec.from_info(eegmat.info, eegmat.X.shape[-1])


@pytest.mark.parametrize("layout", ["nested", "flat"])
def test_malicious_pickle_checkpoint_does_not_execute(tmp_path, signal, layout):
    marker = tmp_path / "pwned"
    torch.manual_seed(0)
    state = build_model("cbramod", arch_params=SMALL, adaptation="from_scratch").build(
        signal).encoder.net.state_dict()
    payload = ({"state_dict": state, "args": _Payload(marker)} if layout == "nested"
               else {**state, "x": _Payload(marker)})
    path = tmp_path / "evil.pt"
    torch.save(payload, path)
    with pytest.raises(UnsafeCheckpointError, match=r"Refused to load .*evil\.pt.*weights_only"):
        build_model("cbramod", arch_params=SMALL, adaptation="finetune",
                    checkpoint=str(path)).build(signal)
    assert not marker.exists()
    # the saved-model path (TorchBenchmarkModel.load) is guarded the same way
    with pytest.raises(UnsafeCheckpointError):
        build_model("cbramod", arch_params=SMALL, adaptation="from_scratch").load(path)
    assert not marker.exists()


def test_plain_and_safetensors_checkpoints_still_load(tmp_path, signal, eegmat):
    import argparse

    torch.manual_seed(0)
    ref = build_model("cbramod", arch_params=SMALL, adaptation="from_scratch").build(signal)
    state = ref.encoder.net.state_dict()
    save_checkpoint(state, tmp_path / "c.safetensors", {"arch_params": SMALL})
    assert set(read_state_dict(tmp_path / "c.safetensors")) == set(state)
    # timm-style training scripts pickle their argparse.Namespace beside the weights
    torch.save({"model": state, "args": argparse.Namespace(lr=1e-3)}, tmp_path / "ns.pth")
    assert set(read_state_dict(tmp_path / "ns.pth")) == set(state)
    X = torch.from_numpy(np.asarray(eegmat.X[:4], dtype=np.float32))
    loaded = build_model("cbramod", adaptation="linear_probe",
                         checkpoint=str(tmp_path / "c.safetensors")).build(signal).eval()
    with torch.no_grad():
        assert torch.equal(loaded.forward_features(X), ref.eval().forward_features(X))


COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize("source,message", [
    ("hf://../../x/y.pt", "invalid owner '..'"),
    ("hf://a/b/", "empty file name"),
    ("hf://a/b", "lacks an owner, a repository or a file name"),
    ("hf://owner", "lacks"),
    ("hf:///etc/passwd", "absolute path"),
    ("hf://a/b/../../etc/passwd", "'..' path segment"),
    ("hf://a/b/./f.pt", "'.' path segment"),
    ("hf://a/b/x//f.pt", "empty path segment"),
    ("hf://a/b/dir/", "empty path segment"),
    ("hf://a--b/c/f.pt", "invalid owner"),
    ("hf://a/b..c/f.pt", "invalid repository name"),
    ("hf://-a/b/f.pt", "invalid owner"),
    ("hf://a/b@/f.pt", "empty revision"),
    ("hf://a/b@rev;rm/f.pt", "invalid revision"),
    ("hf://a/b/x\\y.pt", "invalid path segment"),
])
def test_bad_hub_references_are_refused(source, message):
    with pytest.raises(HubReferenceError, match=message):
        parse_hub_reference(source)


@pytest.mark.parametrize("source,expected", [
    (f"hf://braindecode/labram-pretrained@{COMMIT}/model.safetensors",
     ("braindecode/labram-pretrained", COMMIT, "model.safetensors")),
    (f"hf://wjq-learning/CBraMod@{COMMIT}/pretrained_weights/pretrained_weights.pth",
     ("wjq-learning/CBraMod", COMMIT, "pretrained_weights/pretrained_weights.pth")),
    ("hf://PulpBio/LUNA/LUNA_base.safetensors", ("PulpBio/LUNA", None, "LUNA_base.safetensors")),
    ("hf://a.b/c_d@v1.0/f.bin", ("a.b/c_d", "v1.0", "f.bin")),
])
def test_good_hub_references_parse(source, expected):
    ref = parse_hub_reference(source)
    assert (ref.repo_id, ref.revision, ref.filename) == expected
    assert ref.pinned == (expected[1] == COMMIT)
    assert str(ref) == source
