"""Pretrained checkpoints in the original repositories' layouts load to identical outputs."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from eegbench.models import SignalSpec, build_model
from eegbench.models.weights.loading import WeightsError, read_state_dict, save_checkpoint

SMALL = {
    "cbramod": {"n_layer": 2, "dim_feedforward": 64, "nhead": 4},
    "labram": {"num_layers": 2},
    "biot": {"num_layers": 1, "embed_dim": 64},
    "eegpt": {"depth": 1, "embed_dim": 64, "num_heads": 4},
}


def to_cbramod_original(state):
    """CBraMod repo: same names as braindecode, saved from a DataParallel model."""
    return {f"module.{k}": v for k, v in state.items()}


def to_labram_original(state):
    """LaBraM repo pretraining checkpoint: {'model': {'student.<original name>': ...}}."""
    out = {}
    for k, v in state.items():
        k = (k.replace("position_embedding", "pos_embed")
             .replace("temporal_embedding", "time_embed")
             .replace("patch_embed.temporal_conv.", "patch_embed.")
             .replace(".mlp.0.", ".mlp.fc1.").replace(".mlp.2.", ".mlp.fc2."))
        if k == "time_embed":  # the original table has 16 time slots; the model uses the first
            v = torch.cat([v, torch.randn(1, 16 - v.shape[1], v.shape[2])], dim=1)
        out[f"student.{k}"] = v
    out["student.lm_head.weight"] = torch.randn(8192, 200)
    out["student.mask_token"] = torch.randn(1, 1, 200)
    return {"model": out, "epoch": 49}


def to_biot_original(state):
    """BIOT repo: the bare BIOTEncoder state dict (no 'encoder.' prefix)."""
    return {k[len("encoder."):]: v for k, v in state.items()}


def to_eegpt_original(state):
    """EEGPT repo: a Lightning checkpoint with target_encoder, encoder and predictor."""
    sd = {k: v for k, v in state.items() if k.startswith("target_encoder.")}
    sd.update({k.replace("target_encoder.", "encoder."): v.clone() + 1 for k, v in sd.items()})
    sd["predictor.mask_token"] = torch.randn(1, 1, 64)
    return {"state_dict": sd, "epoch": 199}


ORIGINAL = {"cbramod": to_cbramod_original, "labram": to_labram_original,
            "biot": to_biot_original, "eegpt": to_eegpt_original}
# keys that are not part of the original pretrained encoders
NOT_PRETRAINED = ("final_layer.", "chans_id", "chan_proj.")


@pytest.fixture(scope="module")
def batch(eegmat):
    idx = np.r_[0:4, 40:44]
    return np.asarray(eegmat.X[idx], dtype=np.float32), SignalSpec.from_info(
        eegmat.info, eegmat.X.shape[-1])


@pytest.mark.parametrize("name", sorted(ORIGINAL))
def test_original_layout_checkpoint_loads_exactly(name, batch, tmp_path):
    X, signal = batch
    x = torch.from_numpy(X)
    torch.manual_seed(0)
    reference = build_model(name, arch_params=SMALL[name], adaptation="from_scratch").build(
        signal).eval()
    state = reference.encoder.net.state_dict()
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # move away from the init so that loading is observable
        for k, v in state.items():
            if v.is_floating_point() and not k.startswith(NOT_PRETRAINED):
                v.add_(0.05 * torch.randn(v.shape, generator=gen))
    pretrained = {k: v.clone() for k, v in state.items() if not k.startswith(NOT_PRETRAINED)}
    path = tmp_path / f"{name}_original.pth"
    torch.save(ORIGINAL[name](pretrained), path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()

    torch.manual_seed(0)
    model = build_model(name, arch_params=SMALL[name], adaptation="linear_probe",
                        checkpoint=str(path), checkpoint_sha256=sha)
    loaded = model.build(signal).eval()
    for k, v in pretrained.items():
        assert torch.equal(loaded.encoder.net.state_dict()[k], v), k
    with torch.no_grad():
        assert torch.equal(loaded.forward_features(x), reference.forward_features(x))
        torch.manual_seed(0)
        fresh = build_model(name, arch_params=SMALL[name], adaptation="from_scratch").build(
            signal).eval()
        assert not torch.allclose(fresh.forward_features(x), reference.forward_features(x))


def test_checkpoint_sha256_mismatch_and_missing_weights(batch, tmp_path, monkeypatch):
    X, signal = batch
    torch.manual_seed(0)
    ref = build_model("cbramod", arch_params=SMALL["cbramod"], adaptation="from_scratch")
    meta = save_checkpoint(ref.build(signal).encoder.net.state_dict(), tmp_path / "c.pt",
                           {"arch_params": SMALL["cbramod"]})
    assert len(meta["sha256"]) == 64 and (tmp_path / "c.pt.json").is_file()
    assert "patch_embedding.proj_in.0.weight" in read_state_dict(tmp_path / "c.pt")
    with pytest.raises(WeightsError, match="sha256"):
        build_model("cbramod", adaptation="finetune", checkpoint=str(tmp_path / "c.pt"),
                    checkpoint_sha256="0" * 64).build(signal)
    # a bare file name is looked up in $EEGBENCH_WEIGHTS_DIR; metadata sets the architecture
    monkeypatch.setenv("EEGBENCH_WEIGHTS_DIR", str(tmp_path))
    module = build_model("cbramod", adaptation="finetune", checkpoint="c.pt").build(signal)
    assert len(module.encoder.net.encoder.layers) == SMALL["cbramod"]["n_layer"]
    monkeypatch.delenv("EEGBENCH_WEIGHTS_DIR")
    with pytest.raises(WeightsError, match="EEGBENCH_WEIGHTS_DIR"):
        build_model("cbramod", adaptation="finetune", checkpoint="c.pt").build(signal)
    with pytest.raises(WeightsError, match="model.params.checkpoint=.*from_scratch"):
        build_model("labram", adaptation="linear_probe").build(signal)
    # a checkpoint of another architecture (no metadata) is refused with the differing shapes
    torch.save(read_state_dict(tmp_path / "c.pt"), tmp_path / "bare.pt")
    with pytest.raises(WeightsError, match="does not fit.*linear1"):
        build_model("cbramod", arch_params={**SMALL["cbramod"], "dim_feedforward": 32},
                    adaptation="finetune", checkpoint=str(tmp_path / "bare.pt")).build(signal)
