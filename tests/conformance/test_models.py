"""Every built-in model passes the conformance kit and trains on a real LOSO fold."""

from __future__ import annotations

import numpy as np
import pytest

from eegbench.conformance import CHECK_TRAINER, ConformanceError, check_model
from eegbench.metrics import compute_metrics
from eegbench.models import SignalSpec, build_model, load_builtin_models
from eegbench.models.foundation_zoo import SMALL_ARCH
from eegbench.protocols.splitters import make_splitter

#: Small architectures so that each model runs in seconds on one CPU core.
SMALL = {
    "cbramod": {"arch_params": {"n_layer": 2, "dim_feedforward": 64, "nhead": 4},
                "adaptation": "from_scratch"},
    "labram": {"arch_params": {"num_layers": 2}, "adaptation": "from_scratch"},
    "biot": {"arch_params": {"num_layers": 1, "embed_dim": 64}, "adaptation": "from_scratch"},
    "eegpt": {"arch_params": {"depth": 1, "embed_dim": 64, "num_heads": 4},
              "adaptation": "from_scratch"},
    "brain_tokenizer": {"arch_params": {"patch_size": 64, "dim": 32, "n_codes": 32}},
    # the generic wrapper of every braindecode model (all of them: tests/conformance/test_zoo.py)
    "braindecode": {"arch": "EEGNeX"},
    **{name: {"arch_params": arch, "adaptation": "from_scratch"}
       for name, arch in SMALL_ARCH.items()},
    # the patch transformers at one layer of width 32 (conf/model/patch_tf_*.yaml: 2 x 64)
    **{name: {"arch_params": {"patch_size": 32, "d_model": 32, "n_layers": 1, "n_heads": 2,
                              "dropout": 0.1}}
       for name in ("patch_transformer", "patch_tf_linear", "patch_tf_conv",
                    "patch_tf_spectral", "patch_tf_channel_mix")},
}
# braindecode.<Class> (every braindecode model): tests/conformance/test_zoo.py
BUILTIN = [n for n in load_builtin_models().names() if not n.startswith("braindecode.")]
EXPECTED = {"eegnet", "shallow_fbcsp", "deep4", "eegconformer", "eeginception_erp", "atcnet",
            "csp_lda", "ts_lr", "fb_ts_lr", "xdawn_ts_lr", "erp_lda", "cbramod", "labram",
            "biot", "eegpt", "brain_tokenizer", "braindecode", "reve", "luna", "signal_jepa",
            "bendr", "codebrain", "eegdino"}


def test_zoo_lists_every_model():
    assert EXPECTED <= set(BUILTIN)


@pytest.mark.parametrize("name", BUILTIN)
def test_conformance(name, small_batch):
    report = check_model(name, SMALL.get(name), batch=small_batch)
    assert report.n_parameters > 0
    regression = getattr(build_model(name, **SMALL.get(name, {})), "task", "") == "regression"
    predicts = "predict" if regression else "predict_proba"  # regressors: one number a window
    assert {"fit", predicts, "encode", "save/load"} <= set(report.checks)


@pytest.fixture(scope="module")
def loso_fold(eegmat):
    four = eegmat.meta.subject.isin(["00", "01", "02", "03"]).to_numpy()
    meta = eegmat.meta[four].reset_index(drop=True)
    fold = next(iter(make_splitter("loso", n_valid_subjects=1, seed=0).split(meta)))
    X = np.asarray(eegmat.X[np.flatnonzero(four)], dtype=np.float32)
    return X, meta["label"].to_numpy(), fold, SignalSpec.from_info(eegmat.info, X.shape[-1])


@pytest.mark.parametrize("name", BUILTIN)
def test_one_epoch_on_real_loso_fold(name, loso_fold):
    X, y, fold, signal = loso_fold
    model = build_model(name, **{**SMALL.get(name, {}), "trainer": CHECK_TRAINER})
    model.fit(X[fold.train], y[fold.train], X[fold.valid], y[fold.valid], signal, seed=0)
    if getattr(model, "task", "") == "regression":  # tests/unit/test_regression.py
        pred = model.predict(X[fold.test])
        assert pred.shape == (len(fold.test),) and np.isfinite(pred).all()
        return
    proba = model.predict_proba(X[fold.test])
    assert proba.shape == (len(fold.test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    # the predictions depend on the input: a model that ignores it gives one row for all
    assert np.ptp(proba[:, 1]) > 1e-6
    metrics = compute_metrics(y[fold.test], proba)
    assert np.isfinite(metrics["roc_auc"])
    assert model.family in {"classical", "specialist", "foundation"}


def test_linear_probe_trains_only_the_head(small_batch, tmp_path):
    X, y, signal = small_batch
    ref = build_model("cbramod", **SMALL["cbramod"], trainer=CHECK_TRAINER)
    ref.fit(X, y, X, y, signal, 0)
    from eegbench.models.weights.loading import save_checkpoint
    save_checkpoint(ref.module.encoder.net.state_dict(), tmp_path / "enc.pt",
                    {"arch_params": SMALL["cbramod"]["arch_params"]})
    probe = build_model("cbramod", adaptation="linear_probe", checkpoint=str(tmp_path / "enc.pt"),
                        trainer=CHECK_TRAINER)
    report = probe.fit(X, y, X, y, signal, 0)
    assert report["n_trainable"] == probe.module.n_features + 1  # binary logistic regression
    # the frozen encoder is exactly the checkpoint's
    features = probe.encode(X)
    np.testing.assert_array_equal(features, ref.encode(X))
    assert probe.n_parameters() == ref.n_parameters()
    # the head was trained on those features, and predictions go through them
    import torch

    with torch.no_grad():
        logits = probe.module.head(torch.from_numpy(features))
    np.testing.assert_allclose(probe.predict_proba(X), torch.softmax(logits, -1).numpy(),
                               atol=1e-5)
    assert report["converged"] and report["n_iter"] >= 1
    # save / load keeps the checkpoint's architecture (read from its metadata)
    probe.save(tmp_path / "probe.bin")
    again = build_model("cbramod", adaptation="linear_probe",
                        checkpoint=str(tmp_path / "enc.pt")).load(tmp_path / "probe.bin")
    np.testing.assert_allclose(again.predict_proba(X), probe.predict_proba(X), atol=1e-6)


def test_check_model_catches_a_broken_model(small_batch):
    from eegbench.models.base import MODELS
    from eegbench.models.classical import SklearnModel

    class Broken(SklearnModel):
        def predict_proba(self, X):
            return np.full((len(X), 3), 1 / 3)

    def factory(**_):
        from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
        from sklearn.pipeline import make_pipeline

        from eegbench.models.classical import ERPFeatures
        return Broken(make_pipeline(ERPFeatures(), LinearDiscriminantAnalysis()))

    MODELS.register("_broken_for_test", factory)
    try:
        with pytest.raises(ConformanceError, match="predict_proba shape"):
            check_model("_broken_for_test", batch=small_batch)
    finally:
        MODELS.unregister("_broken_for_test")


@pytest.mark.parametrize("yaml_name", sorted(p.stem for p in (
    __import__("eegbench.resources", fromlist=["config_dir"]).config_dir() / "model").glob(
        "*.yaml")))
def test_every_model_config_composes_and_builds(yaml_name, monkeypatch):
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from eegbench.resources import config_dir

    for var in ("CBRAMOD", "LABRAM", "BIOT", "EEGPT", "REVE", "LUNA", "SIGNAL_JEPA", "BENDR",
                "CODEBRAIN", "EEGDINO"):
        monkeypatch.delenv(f"EEGBENCH_{var}_CHECKPOINT", raising=False)
    # conf/model/plugin.yaml is the template for models without a yaml: it names none itself
    named = ["model.name=ts_lr"] if yaml_name == "plugin" else []
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[f"model={yaml_name}", *named])
    model_cfg = OmegaConf.to_container(cfg.model, resolve=True)
    expected = "ts_lr" if named else yaml_name
    # a variant of another model's yaml (e.g. cbramod_probe: cbramod under a linear probe)
    # names that model itself
    declared = OmegaConf.load(config_dir() / "model" / f"{yaml_name}.yaml").get("name")
    assert model_cfg["name"] in (expected, declared) or model_cfg["name"].startswith(
        f"{yaml_name}.")
    params = dict(model_cfg.get("params") or {})
    model = build_model(model_cfg["name"], adaptation=model_cfg.get("adaptation",
                                                                   "from_scratch"), **params)
    assert model.adaptation == model_cfg.get("adaptation", "from_scratch") or (
        model.family == "classical")
