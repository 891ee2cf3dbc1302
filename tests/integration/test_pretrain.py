"""Masked-patch pretraining on real recordings produces a checkpoint the benchmark loads."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import torch
from hydra import compose, initialize_config_dir

from eegbench.conformance import CHECK_TRAINER
from eegbench.models import SignalSpec, build_model
from eegbench.resources import config_dir


def test_pretrain_then_finetune(tmp_path, data_root, cache_root, eegmat):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[
            "+exp=pretrain", f"paths.data_root={data_root}", f"paths.cache_dir={cache_root}",
            f"paths.runs_dir={tmp_path}", "pretrain.max_steps=4", "pretrain.batch_size=8",
            "pretrain.datasets=[{recipe: physionet_eegmat, subjects: ['18', '19']}]",
            "+pretrain.arch_params.n_layer=1", "+pretrain.arch_params.dim_feedforward=32",
            "pretrain.log_every=2", "pretrain.save_at_steps=[2]"])
    from eegbench.pretraining.job import run_pretraining

    meta = run_pretraining(cfg)
    ckpt = tmp_path / "pretrain" / "cbramod_pretrained.pt"
    assert meta["steps"] == 4 and np.isfinite(meta["loss_last"])
    assert meta["datasets"][0]["subjects"] == ["18", "19"]
    assert meta["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert json.loads((tmp_path / "pretrain" / "cbramod_pretrained.pt.json").read_text())[
        "arch_params"]["n_layer"] == 1
    assert meta["objective"] == "masked_patch" and meta["mask_ratio"] == 0.5
    early = json.loads((tmp_path / "pretrain" / "cbramod_pretrained_step2.pt.json").read_text())
    assert early["steps"] == 2 and early["sha256"] != meta["sha256"]

    idx = np.r_[0:6, 40:46, 48:54, 90:96]  # subjects 00 and 01, both classes
    X, y = np.asarray(eegmat.X[idx], dtype=np.float32), eegmat.y[idx]
    signal = SignalSpec.from_info(eegmat.info, X.shape[-1])
    model = build_model("cbramod", adaptation="finetune", checkpoint=str(ckpt),
                        trainer=CHECK_TRAINER)
    torch.manual_seed(0)
    module = model.build(signal)
    saved = torch.load(ckpt)
    for k, v in module.encoder.net.state_dict().items():
        if k in saved:
            assert torch.equal(v, saved[k]), k
    model.fit(X, y, X, y, signal, seed=0)
    assert model.predict_proba(X).shape == (len(X), 2)
