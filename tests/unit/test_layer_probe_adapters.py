"""Layer-wise probing and few-shot calibration of braindecode models on the fake dataset."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegbench.adaptation.calibration import CalibrationSpec, calibrate
from eegbench.adaptation.layer_probe import layer_features, layer_probe, probe_layer_names
from eegbench.models.base import SignalSpec


@pytest.fixture(scope="module")
def small(fake_windows):
    """Two training subjects, one validation and one test subject, as float32 arrays."""
    meta = fake_windows.meta
    train = np.flatnonzero(meta["subject"].isin(["00", "01"]).to_numpy())
    valid = np.flatnonzero((meta["subject"] == "02").to_numpy())
    test = np.flatnonzero((meta["subject"] == "03").to_numpy())
    X = np.asarray(fake_windows.X[np.r_[train, valid, test]], dtype=np.float32)
    y = fake_windows.y[np.r_[train, valid, test]]
    a, b = len(train), len(train) + len(valid)
    signal = SignalSpec.from_info(fake_windows.info, X.shape[-1])
    return (X[:a], y[:a]), (X[a:b], y[a:b]), (X[b:], y[b:]), signal


@pytest.fixture(scope="module")
def fitted_eegnet(small):
    from eegbench.models.deep import BraindecodeClassifier

    (Xt, yt), (Xv, yv), _, signal = small
    torch.set_num_threads(1)
    model = BraindecodeClassifier("EEGNet", trainer={"max_epochs": 2, "patience": 2})
    model.fit(Xt, yt, Xv, yv, signal, seed=0)
    return model


def test_layer_probe_on_every_eegnet_layer(fitted_eegnet, small):
    (Xt, yt), _, (Xs, ys), _ = small
    module = fitted_eegnet.module
    layers = probe_layer_names(module)
    # input reshaping and dropout skipped
    # braindecode's EEGNet inside eegbench's encoder wrapper: layers are named net.<child>
    assert layers[0] == "net.conv_temporal" and layers[-1] == "head"
    assert not any(name.endswith("drop_1") for name in layers)
    table = layer_probe(module, Xt, yt, Xs, ys, max_features=256)
    assert table["layer"].tolist() == ["input"] + layers  # network order, input baseline
    assert (table["n_features"] <= 256).all() and (table["n_features"] > 0).all()
    assert table["balanced_accuracy"].between(0, 1).all()
    # probes differ across depth (real features, not a constant)
    assert table["balanced_accuracy"].nunique() > 1
    # hooks removed, training mode restored
    assert all(not m._forward_hooks for m in module.modules())


def test_layer_features_match_a_manual_forward(fitted_eegnet, small):
    (Xt, _), *_ = small
    module = fitted_eegnet.module
    feats = layer_features(module, Xt[:5], ["head"], max_features=10_000,
                           include_input=False)
    module.eval()
    with torch.no_grad():
        logits = module(torch.from_numpy(Xt[:5])).numpy()
    np.testing.assert_allclose(feats["head"], logits, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="Invalid layer name"):
        layer_features(module, Xt[:2], ["nope"])


def test_layer_probe_works_on_another_braindecode_architecture(small):
    from eegbench._compat import import_braindecode_models

    (Xt, yt), _, (Xs, ys), signal = small
    torch.manual_seed(0)
    net = import_braindecode_models().ShallowFBCSPNet(
        n_chans=signal.n_chans, n_outputs=2, n_times=signal.n_times, sfreq=signal.sfreq,
        final_conv_length="auto")
    table = layer_probe(net, Xt, yt, Xs, ys, max_features=128, include_input=False)
    assert table["layer"].tolist() == probe_layer_names(net)


def test_calibrate_fine_tunes_a_copy_and_keeps_norm_statistics(fitted_eegnet, small):
    _, _, (Xs, ys), _ = small
    shots = np.r_[np.flatnonzero(ys == 0)[:5], np.flatnonzero(ys == 1)[:5]]
    before = {k: v.clone() for k, v in fitted_eegnet.module.state_dict().items()}
    tuned, report = calibrate(fitted_eegnet, Xs[shots], ys[shots], 2,
                              CalibrationSpec(max_epochs=3), seed=0)
    after = fitted_eegnet.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # original untouched
    new = tuned.module.state_dict()
    key = next(k for k in before if k.endswith("conv_temporal.weight"))
    stats = next(k for k in before if k.endswith("bnorm_temporal.running_mean"))
    assert not torch.equal(new[key], before[key])
    assert torch.equal(new[stats], before[stats])
    assert report["calib_epochs"] == 3 and np.isfinite(report["calib_loss"])
    assert tuned.predict_proba(Xs[:4]).shape == (4, 2)
    with pytest.raises(ValueError, match="Invalid key"):
        CalibrationSpec.from_config({"epochs": 3})
