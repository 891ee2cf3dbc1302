"""PEFT adaptations (peft library) train one real eegmat fold and leave the base weights intact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegbench.adaptation.peft_methods import PEFT_ADAPTATIONS, frozen_base_state
from eegbench.metrics import compute_metrics
from eegbench.models import SignalSpec, build_model
from eegbench.models.weights.loading import save_checkpoint
from eegbench.protocols.splitters import make_splitter

SMALL = {"n_layer": 2, "dim_feedforward": 64, "nhead": 4}
TRAINER = {"max_epochs": 1, "batch_size": 32, "lr": 1e-3, "patience": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def fold(eegmat):
    """One leave-one-subject-out fold over four real eegmat subjects."""
    four = eegmat.meta.subject.isin(["00", "01", "02", "03"]).to_numpy()
    meta = eegmat.meta[four].reset_index(drop=True)
    split = next(iter(make_splitter("loso", n_valid_subjects=1, seed=0).split(meta)))
    X = np.asarray(eegmat.X[np.flatnonzero(four)], dtype=np.float32)
    return X, meta["label"].to_numpy(), split, SignalSpec.from_info(eegmat.info, X.shape[-1])


@pytest.fixture(scope="module")
def checkpoint(fold, tmp_path_factory):
    """A CBraMod encoder checkpoint (random weights moved off the init) with its metadata."""
    *_, signal = fold
    torch.manual_seed(1)
    module = build_model("cbramod", arch_params=SMALL, adaptation="from_scratch").build(signal)
    state = module.encoder.net.state_dict()
    with torch.no_grad():
        for v in state.values():
            if v.is_floating_point():
                v.add_(0.02 * torch.randn_like(v))
    path = tmp_path_factory.mktemp("peft") / "cbramod.safetensors"
    save_checkpoint(state, path, {"arch_params": SMALL})
    return path


@pytest.mark.parametrize("adaptation", ["lora", "dora", "ia3", "adalora", "oft",
                                        "probe_then_lora"])
def test_peft_trains_a_real_fold_and_keeps_the_base_frozen(adaptation, fold, checkpoint,
                                                           tmp_path):
    X, y, split, signal = fold
    reference = build_model("cbramod", adaptation="linear_probe", checkpoint=str(checkpoint))
    base_before = {f"encoder.{k}": v for k, v in
                   reference.build(signal).encoder.state_dict().items()}
    model = build_model("cbramod", adaptation=adaptation, checkpoint=str(checkpoint),
                        trainer=TRAINER)
    report = model.fit(X[split.train], y[split.train], X[split.valid], y[split.valid],
                       signal, seed=0)
    # only adapters and the head were trained: a small fraction of the parameters
    assert 0 < report["n_trainable"] < 0.5 * report["n_total"]
    assert report["peft_method"] == adaptation.removeprefix("probe_then_")
    assert report["peft_targets"]
    # the frozen base weights are bit-identical to the checkpoint's after training
    after = frozen_base_state(model.module)
    assert set(base_before) <= set(after)
    for key, value in base_before.items():
        assert torch.equal(after[key], value), key
    # the adapters moved (training did something) and predictions are usable
    proba = model.predict_proba(X[split.test])
    metrics = compute_metrics(y[split.test], proba)
    assert np.isfinite(metrics["roc_auc"])
    # save / load of the adapted model gives the same predictions
    model.save(tmp_path / "adapted.bin")
    again = build_model("cbramod", adaptation=adaptation, checkpoint=str(checkpoint))
    again.load(tmp_path / "adapted.bin")
    np.testing.assert_allclose(again.predict_proba(X[split.test]), proba, atol=1e-5)


def test_adapters_change_the_output(fold, checkpoint):
    X, y, split, signal = fold
    model = build_model("cbramod", adaptation="lora", checkpoint=str(checkpoint),
                        trainer=TRAINER)
    model.fit(X[split.train], y[split.train], X[split.valid], y[split.valid], signal, seed=0)
    lora_b = [p for n, p in model.module.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # LoRA B starts at zero


def test_every_peft_value_is_an_allowed_adaptation():
    from eegbench.adaptation import ADAPTATIONS, check_adaptation

    assert set(PEFT_ADAPTATIONS) <= set(ADAPTATIONS)
    with pytest.raises(ValueError, match="Allowed values are .*'lora'.*but got 'lorra'"):
        check_adaptation("lorra")
