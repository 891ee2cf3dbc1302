"""Foundation-model adaptation on real eegmat windows: encoder taps, converged probes, LP-FT,
collapse flags, and classical pipelines trained on every non-test subject."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from eegbench.config import build_job
from eegbench.models import SignalSpec, build_model
from eegbench.models.weights.loading import save_checkpoint
from eegbench.resources import config_dir

SMALL_CBRAMOD = {"n_layer": 2, "dim_feedforward": 64, "nhead": 4}
SUBJECTS = ["00", "01", "02", "03", "04"]


@pytest.fixture(scope="module")
def fold(eegmat):
    """Real windows: training subjects 00-01, validation 02, test 03 (float32 arrays)."""
    meta = eegmat.meta

    def windows(subjects):
        idx = np.flatnonzero(meta["subject"].isin(subjects).to_numpy())
        return np.asarray(eegmat.X[idx], dtype=np.float32), eegmat.y[idx]

    signal = SignalSpec.from_info(eegmat.info, eegmat.X.shape[-1])
    return windows(["00", "01"]), windows(["02"]), windows(["03"]), signal


@pytest.fixture(scope="module")
def checkpoint(fold, tmp_path_factory):
    """A small CBraMod encoder saved as a checkpoint (random weights: the probe's job is the
    optimisation, which must converge whatever the representation)."""
    *_, signal = fold
    torch.manual_seed(0)
    net = build_model("cbramod", arch_params=SMALL_CBRAMOD, adaptation="from_scratch").build(
        signal).encoder.net
    path = tmp_path_factory.mktemp("weights") / "cbramod_small.pt"
    save_checkpoint(net.state_dict(), path, {"arch_params": SMALL_CBRAMOD})
    return str(path)


def test_cbramod_features_are_the_encoder_tokens_not_proj_out(fold):
    (X, _), *_, signal = fold
    torch.manual_seed(0)
    module = build_model("cbramod", arch_params=SMALL_CBRAMOD, adaptation="from_scratch",
                         head={"kind": "linear", "readout": "mean"}).build(signal).eval()
    net = module.encoder.net
    seen, calls = {}, []
    hooks = [net.encoder.layers[-1].register_forward_hook(
        lambda _m, _i, out: seen.__setitem__("last_block", out.detach()))]
    hooks += [m.register_forward_hook(lambda m, _i, _o: calls.append(type(m).__name__))
              for m in net.proj_out.modules()]
    x = torch.from_numpy(X[:6])
    with torch.no_grad():
        tokens, cls = module.encoder.tokens(module.adapter(x))
        features = module.forward_features(x)
    for h in hooks:
        h.remove()
    assert calls == []  # the reconstruction head is never called
    assert cls is None and module.encoder.token_layout[:3] == ("batch", "channels", "patches")
    n_patches = module.adapter.out_times // 200
    assert tokens.shape == (6, signal.n_chans, n_patches, 200)
    assert torch.equal(tokens, seen["last_block"])
    torch.testing.assert_close(features, seen["last_block"].mean(dim=(1, 2)))
    with torch.no_grad():  # and they differ from what the reconstruction head would give
        assert not torch.allclose(features, net.proj_out(tokens).mean(dim=(1, 2)))
    # mlp head: all patch tokens flattened (CBraMod's downstream classifier)
    torch.manual_seed(0)
    mlp = build_model("cbramod", arch_params=SMALL_CBRAMOD, adaptation="from_scratch",
                      head={"kind": "mlp", "readout": "flatten"}).build(signal).eval()
    assert mlp.n_features == signal.n_chans * n_patches * 200
    assert isinstance(mlp.head, torch.nn.Sequential) and len(mlp.head) == 7


@pytest.mark.parametrize("name,arch,hook_path", [
    ("labram", {"num_layers": 2}, "norm"),
    ("biot", {"num_layers": 1, "embed_dim": 64}, "encoder.transformer"),
    ("eegpt", {"depth": 1, "embed_dim": 64, "num_heads": 4}, "target_encoder"),
])
def test_other_foundation_taps_match_a_hook(name, arch, hook_path, fold):
    (X, _), *_, signal = fold
    torch.manual_seed(0)
    module = build_model(name, arch_params=arch, adaptation="from_scratch").build(
        signal).eval()
    seen = {}
    handle = module.encoder.net.get_submodule(hook_path).register_forward_hook(
        lambda _m, _i, out: seen.__setitem__("out", out.detach()))
    with torch.no_grad():
        tokens, _ = module.encoder.tokens(module.adapter(torch.from_numpy(X[:4])))
    handle.remove()
    hooked = seen["out"][:, 1:] if name == "labram" else seen["out"]  # LaBraM: drop CLS
    assert tokens.ndim == 4 and len(module.encoder.token_layout) == 4
    torch.testing.assert_close(tokens.reshape(4, -1), hooked.reshape(4, -1))


def test_linear_probe_converges_on_real_frozen_features(fold, checkpoint):
    from eegbench.adaptation.probe import fit_probe

    (Xt, yt), (Xv, yv), (Xs, _), signal = fold
    model = build_model("cbramod", adaptation="linear_probe", checkpoint=checkpoint)
    report = model.fit(Xt, yt, Xv, yv, signal, seed=0)
    assert report["converged"] is True and 0 < report["n_iter"] < report["max_iter"]
    assert report["C"] == 1.0 and report["hp_source"].startswith("a priori")
    assert report["n_windows"] == len(Xt) + len(Xv)  # every non-test subject
    assert report["n_trainable"] == 200 + 1  # binary: one weight per feature + intercept
    # the torch head reproduces the scikit-learn probe exactly
    probe, again = fit_probe(np.concatenate([model.encode(Xt), model.encode(Xv)]),
                             np.concatenate([yt, yv]), model.probe)
    assert again["n_iter"] == report["n_iter"]
    np.testing.assert_allclose(model.predict_proba(Xs),
                               probe.predict_proba(model.encode(Xs)), atol=1e-5)
    assert all(not p.requires_grad for p in model.module.encoder.parameters())


def test_probe_ignores_the_mlp_head_and_survives_save_load(fold, checkpoint, tmp_path):
    (Xt, yt), (Xv, yv), (Xs, _), signal = fold
    params = {"adaptation": "linear_probe", "checkpoint": checkpoint,
              "head": {"kind": "mlp", "readout": "flatten"}}
    model = build_model("cbramod", **params)
    model.fit(Xt, yt, Xv[:0], yv[:0], signal, seed=0)
    assert isinstance(model.module.head, torch.nn.Linear) and model.module.n_features == 200
    model.save(tmp_path / "probe.bin")
    again = build_model("cbramod", **params).load(tmp_path / "probe.bin")
    np.testing.assert_allclose(again.predict_proba(Xs), model.predict_proba(Xs), atol=1e-6)


def test_lp_ft_fine_tunes_from_the_probed_head(fold, checkpoint, monkeypatch):
    import eegbench.adaptation.lp_ft as lp_ft
    from eegbench.adaptation.probe import final_linear

    (Xt, yt), (Xv, yv), (Xs, ys), signal = fold
    start = {}
    original = lp_ft.train_all_weights

    def spy(model, *args, **kwargs):
        start["head"] = final_linear(model.module.head).weight.detach().clone()
        start["encoder_trainable"] = all(p.requires_grad
                                         for p in model.module.encoder.parameters())
        start["proba"] = model.predict_proba(Xs)
        return original(model, *args, **kwargs)

    monkeypatch.setattr(lp_ft, "train_all_weights", spy)
    model = build_model("cbramod", adaptation="lp_ft", checkpoint=checkpoint,
                        trainer={"max_epochs": 1, "lr": 1e-4, "head_lr": 5e-4,
                                 "schedule": "cosine", "label_smoothing": 0.1,
                                 "grad_clip": 1.0, "weight_decay": 0.05})
    report = model.fit(Xt, yt, Xv, yv, signal, seed=0)
    assert report["probe"]["converged"] and report["probe"]["n_windows"] == len(Xt)
    assert start["encoder_trainable"]
    # fine-tuning starts from the probe: its head is the probe's, not a random init
    probed = build_model("cbramod", adaptation="linear_probe", checkpoint=checkpoint)
    probed.fit(Xt, yt, Xv[:0], yv[:0], signal, seed=0)
    torch.testing.assert_close(start["head"], final_linear(probed.module.head).weight)
    np.testing.assert_allclose(start["proba"], probed.predict_proba(Xs), atol=1e-5)
    assert report["epochs_run"] == 1 and report["budget"]["kind"] == "lp_ft"
    assert report["n_trainable"] == sum(p.numel() for p in model.module.parameters())
    assert model.predict_proba(Xs).shape == (len(Xs), 2)


def _cfg(data_root: Path, cache: Path, tmp: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[
            f"dataset.subjects=[{','.join(SUBJECTS)}]", f"paths.data_root={data_root}",
            f"paths.cache_dir={cache}", f"paths.runs_dir={tmp}", "trainer=fast", *overrides])


def _first_fold(cfg):
    from eegbench.evaluation.plan import load_dataset
    from eegbench.protocols.splitters import make_splitter

    ds = load_dataset(cfg)
    return ds, next(iter(make_splitter("loso", seed=0, n_valid_subjects=2).split(ds.meta)))


def test_collapse_flag_set_by_a_broken_configuration(data_root, cache_root, tmp_path):
    from eegbench.evaluation.fold import fit_and_score
    from eegbench.evaluation.identity import identity_hash

    cfg = build_job(_cfg(data_root, cache_root, tmp_path, "model=eegnet", "trainer.lr=1000.0",
                         "trainer.max_epochs=1", "trainer.class_weighting=none"))
    ds, fold = _first_fold(cfg)
    row, _ = fit_and_score(cfg, ds, fold, 0, identity_hash(cfg))
    assert sum(row.predicted_class_counts) == len(fold.test)
    assert row.collapsed is True
    assert sorted(row.predicted_class_counts)[0] == 0
    assert row.budget["lr"] == 1000.0 and row.budget["epochs_run"] == 1


def test_classical_pipeline_sees_every_non_test_subject(data_root, cache_root, tmp_path):
    from eegbench.evaluation.fold import fit_and_score
    from eegbench.evaluation.identity import identity_hash

    cfg = build_job(_cfg(data_root, cache_root, tmp_path, "model=ts_lr"))
    ds, fold = _first_fold(cfg)
    row, _ = fit_and_score(cfg, ds, fold, 0, identity_hash(cfg))
    others = sorted(set(ds.meta["subject"].astype(str)) - set(fold.test_subjects))
    assert row.fit_report["train_subjects"] == others
    assert set(fold.valid_subjects) <= set(row.fit_report["train_subjects"])
    assert row.n_train == len(fold.train) + len(fold.valid) and row.n_valid == 0
    assert row.collapsed in (True, False) and sum(row.predicted_class_counts) == len(fold.test)
    # a deep model keeps its validation subjects out of training (early stopping)
    cfg = build_job(_cfg(data_root, cache_root, tmp_path, "model=eegnet",
                         "trainer.max_epochs=1"))
    row, _ = fit_and_score(cfg, ds, fold, 0, identity_hash(cfg))
    assert not set(fold.valid_subjects) & set(row.fit_report["train_subjects"])
    assert row.n_valid == len(fold.valid) and row.budget["epochs_run"] == 1


def test_batchnorm_statistics_are_re_estimated_on_the_training_windows(fold):
    from eegbench.training.batchnorm import reestimate_batchnorm

    (Xt, yt), (Xv, yv), _, signal = fold
    model = build_model("eegnet", trainer={"max_epochs": 1, "device": "cpu"})
    model.fit(Xt, yt, Xv, yv, signal, seed=0)
    module = model.module
    bn = next(m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen = {}
    handle = bn.register_forward_pre_hook(lambda _m, args: seen.__setitem__("x", args[0]))
    with torch.no_grad():
        module.eval()
        module(torch.from_numpy(Xt))
    handle.remove()
    before = bn.running_mean.clone()
    n_layers = reestimate_batchnorm(module, Xt, batch_size=len(Xt))
    assert n_layers >= 2 and not module.training and bn.momentum == 0.01
    x = seen["x"]  # one batch: the running statistics are the exact training statistics
    torch.testing.assert_close(bn.running_mean, x.mean(dim=(0, 2, 3)), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(bn.running_var, x.var(dim=(0, 2, 3), unbiased=True),
                               atol=1e-5, rtol=1e-4)
    assert not torch.allclose(before, bn.running_mean)  # momentum 0.01 had not converged


def test_refit_on_train_and_validation_for_the_selected_epochs(fold):
    (Xt, yt), (Xv, yv), (Xs, _), signal = fold
    model = build_model("eegnet", trainer={"max_epochs": 2, "patience": 0, "device": "cpu",
                                           "refit_on_train_valid": True})
    report = model.fit(Xt, yt, Xv, yv, signal, seed=0)
    assert report["budget"]["refit_epochs"] == report["best_epoch"] >= 1
    assert report["trained_on"].startswith("train + validation")
    assert model.predict_proba(Xs).shape == (len(Xs), 2)
