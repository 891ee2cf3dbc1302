"""The fused EEGNet forward equals braindecode's on real eegmat windows (train and eval).

Outputs, gradients of every parameter, BatchNorm running statistics and the state dict are
compared with braindecode's own forward of a copy of the same network; dropout draws the same
masks in both (same seed, and the fused layers draw no random numbers).
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest
import torch
from torch import nn

from eegbench.models.base import SignalSpec, build_model
from eegbench.models.deep import BraindecodeEncoder
from eegbench.models.eegnet_fast import (
    eegnet_forward,
    fast_path_mismatch,
    fft_correlate,
    lag_statistics,
    structural_mismatch,
)
from eegbench.training.batchnorm import reestimate_batchnorm

RTOL = 1e-4


@pytest.fixture(scope="module")
def windows(data_root, cache_root):
    """Real eegmat windows of three subjects (float32, in memory) and their labels."""
    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    ds = load_windows(load_recipe("physionet_eegmat"), data_root, PreprocessSpec(),
                      cache_root, subjects=["00", "01", "02"])
    return np.array(ds.X, dtype=np.float32), ds.y, SignalSpec.from_info(ds.info,
                                                                          ds.X.shape[-1])


def _pair(signal, seed=0, **arch_params):
    """A braindecode EEGNet (classifier stripped) and an identical copy."""
    from eegbench._compat import import_braindecode_models

    torch.manual_seed(seed)
    net = import_braindecode_models().EEGNet(n_chans=signal.n_chans, n_outputs=2,
                                             n_times=signal.n_times, sfreq=signal.sfreq,
                                             **arch_params)
    net.final_layer = nn.Identity()
    return net, copy.deepcopy(net)


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = RTOL) -> bool:
    """Equal within ``rtol`` of the larger magnitude (float32 rounding, not a tolerance hack)."""
    a, b = a.detach(), b.detach()
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-12)
    return float((a - b).abs().max()) <= rtol * scale


def _forward_backward(net, x, y, head, fast: bool, seed: int = 1):
    torch.manual_seed(seed)  # same dropout masks on both paths
    features = eegnet_forward(net, x) if fast else net(x)
    loss = nn.functional.cross_entropy(head(features.flatten(1)), y)
    grads = torch.autograd.grad(loss, list(net.parameters()))
    return features, loss, grads


def test_lag_statistics_equal_the_unfolded_input(windows):
    X, _, _ = windows
    x = torch.from_numpy(X[:8])
    for kernel, padding in ((64, 32), (7, 3), (16, 0), (9, 8)):
        means, gram, count = lag_statistics(x, kernel, padding)
        padded = nn.functional.pad(x.double().reshape(-1, x.shape[-1]), (padding, padding))
        n_out = padded.shape[1] - kernel + 1
        lagged = torch.stack([padded[:, k:k + n_out] for k in range(kernel)]).reshape(kernel, -1)
        assert count == lagged.shape[1]
        assert _close(means, lagged.mean(1), 1e-6)
        assert _close(gram, lagged @ lagged.T, 1e-6)


def test_fft_correlate_equals_grouped_conv1d(windows):
    X, _, _ = windows
    x = torch.from_numpy(X[:4, :16])
    taps = torch.randn(16, 16)
    for padding in (0, 5, 8, 15):
        want = nn.functional.conv1d(x, taps[:, None], padding=padding, groups=16)
        assert _close(fft_correlate(x, taps, padding), want)


@pytest.mark.parametrize(("arch_params", "affine"), [
    ({}, True), ({"kernel_length": 33, "F1": 4, "D": 3}, True),
    ({"batch_norm_momentum": 0.1, "batch_norm_eps": 1e-5, "drop_prob": 0.5}, False)])
def test_training_step_matches_braindecode(windows, arch_params, affine):
    X, y, signal = windows
    stock, fast = _pair(signal, **arch_params)
    if not affine:  # (braindecode's initialisation fails with batch_norm_affine=False)
        bn = stock.bnorm_temporal
        stock.bnorm_temporal = nn.BatchNorm2d(bn.num_features, eps=bn.eps,
                                              momentum=bn.momentum, affine=False)
        fast.bnorm_temporal = copy.deepcopy(stock.bnorm_temporal)
    assert structural_mismatch(fast) is None
    stock.eval()  # (evaluation mode: the size probe leaves the running statistics alone)
    with torch.no_grad():
        n_features = stock(torch.from_numpy(X[:2])).flatten(1).shape[1]
    torch.manual_seed(0)
    head = nn.Linear(n_features, 2)
    stock.train()
    fast.train()
    x, target = torch.from_numpy(X[:64]), torch.from_numpy(y[:64]).long()
    tracked = int(fast.bnorm_temporal.num_batches_tracked)
    out_s, loss_s, grads_s = _forward_backward(stock, x, target, head, fast=False)
    out_f, loss_f, grads_f = _forward_backward(fast, x, target, head, fast=True)
    assert _close(out_f, out_s)
    assert abs(float(loss_f) - float(loss_s)) <= RTOL * abs(float(loss_s))
    scale = max(float(g.abs().max()) for g in grads_s)
    for (name, _), g_s, g_f in zip(stock.named_parameters(), grads_s, grads_f, strict=True):
        # relative to the largest gradient: bnorm_temporal.bias has an exactly zero gradient
        # (bnorm_1 removes any shift), so both paths give rounding noise there
        assert float((g_f - g_s).abs().max()) <= RTOL * scale, name
        assert _close(g_f, g_s, 1e-3) or float(g_s.abs().max()) < 1e-3 * scale, name
    state_s, state_f = stock.state_dict(), fast.state_dict()
    assert list(state_s) == list(state_f)
    for key in state_s:
        if state_s[key].is_floating_point():
            assert _close(state_f[key], state_s[key]), key
        else:
            assert torch.equal(state_f[key], state_s[key]), key
    assert int(state_f["bnorm_temporal.num_batches_tracked"]) == tracked + 1


def test_eval_mode_and_several_steps_match(windows):
    X, y, signal = windows
    stock, fast = _pair(signal, seed=3)
    torch.manual_seed(0)
    head_s = nn.Linear(320, 2)
    head_f = copy.deepcopy(head_s)
    opt_s = torch.optim.AdamW([*stock.parameters(), *head_s.parameters()], lr=1e-3)
    opt_f = torch.optim.AdamW([*fast.parameters(), *head_f.parameters()], lr=1e-3)
    for step in range(3):
        batch = slice(32 * step, 32 * step + 32)
        x, target = torch.from_numpy(X[batch]), torch.from_numpy(y[batch]).long()
        for net, head, opt, fast_path in ((stock, head_s, opt_s, False),
                                          (fast, head_f, opt_f, True)):
            net.train()
            opt.zero_grad()
            torch.manual_seed(step)
            out = eegnet_forward(net, x) if fast_path else net(x)
            nn.functional.cross_entropy(head(out.flatten(1)), target).backward()
            opt.step()
    for (name, p_s), p_f in zip(stock.named_parameters(), fast.parameters(), strict=True):
        if name == "bnorm_temporal.bias":
            # its gradient is exactly zero (bnorm_1 removes any shift of its input), so AdamW
            # turns rounding noise into full-size steps of random sign on both paths; the
            # outputs do not depend on it (checked below)
            continue
        assert _close(p_f, p_s, 1e-3), name
    for net in (stock, fast):
        net.eval()
    with torch.no_grad():
        x = torch.from_numpy(X[96:])
        assert _close(eegnet_forward(fast, x), stock(x))


def test_cumulative_batchnorm_reestimation_matches(windows):
    X, _, signal = windows
    stock, fast = _pair(signal, seed=5)
    stock_model = nn.Sequential(stock)
    fast_model = nn.Sequential(BraindecodeEncoder(fast))
    assert fast_model[0].fast_path
    reestimate_batchnorm(stock_model, X[:100], batch_size=32)  # momentum=None, train-mode BN
    reestimate_batchnorm(fast_model, X[:100], batch_size=32)
    for key in ("running_mean", "running_var"):
        assert _close(getattr(fast.bnorm_temporal, key), getattr(stock.bnorm_temporal, key))
        assert _close(getattr(fast.bnorm_1, key), getattr(stock.bnorm_1, key))


def test_model_uses_the_fast_path_and_the_switch_turns_it_off(windows, caplog, monkeypatch):
    from eegbench.models import eegnet_fast

    monkeypatch.setattr(eegnet_fast, "_logged", set())  # it logs once per process
    X, y, signal = windows
    model = build_model("eegnet", trainer={"max_epochs": 1, "patience": 0})
    with caplog.at_level(logging.INFO, logger="eegbench.models.eegnet_fast"):
        model.fit(X[:96], y[:96], X[96:120], y[96:120], signal, seed=0)
    assert model.module.encoder.fast_path
    assert "exact fused temporal-spatial forward" in caplog.text
    stock = build_model("eegnet", fast_path=False, trainer={"max_epochs": 1, "patience": 0})
    stock.fit(X[:96], y[:96], X[96:120], y[96:120], signal, seed=0)
    assert not stock.module.encoder.fast_path
    # same seed, same numbers: the fast path changes the speed, not the result
    assert list(model.module.state_dict()) == list(stock.module.state_dict())
    np.testing.assert_allclose(model.predict_proba(X[120:]), stock.predict_proba(X[120:]),
                               atol=1e-3)


def test_non_matching_networks_and_calls_fall_back(windows, caplog):
    X, _, signal = windows
    x = torch.from_numpy(X[:16])
    stock, fast = _pair(signal)
    stock.eval()
    fast.eval()
    # a hook on a fused layer (layer probes read conv_temporal's output): stock forward
    seen = []
    handle = fast.conv_temporal.register_forward_hook(lambda m, i, o: seen.append(o.shape))
    assert "hooks" in fast_path_mismatch(fast, x)
    with torch.no_grad():
        assert torch.equal(eegnet_forward(fast, x), stock(x))
    assert seen  # the hook fired
    handle.remove()
    assert fast_path_mismatch(fast, x) is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert "autocast" in fast_path_mismatch(fast, x)
    # folds stacked by vmap (fold-parallel training) run braindecode's layers under it
    seen_under_vmap = []
    torch.func.vmap(lambda xb: seen_under_vmap.append(fast_path_mismatch(fast, xb)) or xb)(
        x[None])
    assert "torch.func" in seen_under_vmap[0]
    # a changed layer (temporal convolution with a bias): the encoder keeps the stock forward
    changed = copy.deepcopy(fast)
    changed.conv_temporal = nn.Conv2d(1, 8, (1, 64), padding=(0, 32), bias=True)
    assert "conv_temporal" in structural_mismatch(changed)
    with caplog.at_level(logging.INFO, logger="eegbench.models.deep"):
        encoder = BraindecodeEncoder(changed)
    assert not encoder.fast_path and "stock forward" in caplog.text
    with torch.no_grad():
        assert torch.equal(encoder(x), changed(x).flatten(1))
    # other architectures never take it
    from eegbench._compat import import_braindecode_models

    shallow = import_braindecode_models().ShallowFBCSPNet(
        n_chans=signal.n_chans, n_outputs=2, n_times=signal.n_times, sfreq=signal.sfreq)
    assert "not braindecode's EEGNet" in structural_mismatch(shallow)
    assert not BraindecodeEncoder(shallow).fast_path
