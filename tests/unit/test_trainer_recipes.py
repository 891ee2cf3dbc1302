"""Trainer recipes: parameter groups (head lr, layer-wise decay), schedules, collapse counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from eegbench.adaptation.collapse import is_collapsed, predicted_class_counts
from eegbench.adaptation.registry import adaptation_names, get_adaptation
from eegbench.training.loop import TrainerSpec
from eegbench.training.optim import make_optimizer, make_scheduler, param_groups


class _Blocks(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.embed = nn.Linear(4, 4)
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(n)])

    def blocks(self) -> list[nn.Module]:
        return list(self.layers)


class _Classifier(nn.Module):
    def __init__(self, n: int = 3) -> None:
        super().__init__()
        self.encoder = _Blocks(n)
        self.head = nn.Linear(4, 2)


def _lr_of(groups, param):
    return next(g["lr"] for g in groups if any(p is param for p in g["params"]))


def test_head_lr_and_layer_decay_follow_the_recipe():
    module = _Classifier(3)
    spec = TrainerSpec(lr=1e-3, head_lr=5e-3, layer_decay=0.5, weight_decay=0.05,
                       no_weight_decay_1d=True)
    groups = param_groups(module, spec)
    assert _lr_of(groups, module.head.weight) == pytest.approx(5e-3)
    # block i of L=3 gets lr * 0.5 ** (L + 1 - (i + 1)); embeddings lr * 0.5 ** (L + 1)
    for i, block in enumerate(module.encoder.layers):
        assert _lr_of(groups, block.weight) == pytest.approx(1e-3 * 0.5 ** (3 - i))
    assert _lr_of(groups, module.encoder.embed.weight) == pytest.approx(1e-3 * 0.5 ** 4)
    decay = {id(p): g["weight_decay"] for g in groups for p in g["params"]}
    assert decay[id(module.head.bias)] == 0.0 and decay[id(module.head.weight)] == 0.05
    n_params = sum(len(g["params"]) for g in groups)
    assert n_params == len(list(module.parameters()))


def test_warmup_cosine_and_onecycle_schedules():
    module = _Classifier(1)
    spec = TrainerSpec(lr=1e-3, schedule="cosine", warmup_epochs=2, warmup_lr=1e-6,
                       min_lr=1e-6, max_epochs=10)
    opt = make_optimizer(param_groups(module, spec), spec)
    sched = make_scheduler(opt, spec, steps_per_epoch=5)
    lrs = []
    for _ in range(50):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-6)
    assert lrs[10] == pytest.approx(1e-3)  # end of warm-up (2 epochs x 5 steps)
    assert max(lrs) == pytest.approx(1e-3) and lrs[-1] < 2e-5
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))  # cosine decays
    expected_mid = 1e-6 + (1e-3 - 1e-6) * 0.5 * (1 + math.cos(math.pi * 20 / 40))
    assert lrs[30] == pytest.approx(expected_mid)
    one = TrainerSpec(lr=4e-4, schedule="onecycle", pct_start=0.2, max_epochs=10)
    opt = make_optimizer(param_groups(module, one), one)
    sched = make_scheduler(opt, one, steps_per_epoch=5)
    lrs = []
    for _ in range(50):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert int(np.argmax(lrs)) in (9, 10) and max(lrs) == pytest.approx(4e-4, rel=1e-3)
    assert make_scheduler(opt, TrainerSpec(schedule="constant"), 5) is None
    with pytest.raises(ValueError, match="trainer.schedule"):
        make_scheduler(opt, TrainerSpec(schedule="steps"), 5)


def test_trainer_spec_nulls_keep_defaults_and_patience_zero_disables_stopping():
    spec = TrainerSpec.from_config({"lr": None, "max_epochs": 5, "patience": 0, "bogus": 1})
    assert spec.lr == 1e-3 and spec.max_epochs == 5 and spec.patience is None
    assert spec.budget()["max_epochs"] == 5


def test_predicted_class_counts_and_collapse_flag():
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4]])
    assert predicted_class_counts(proba, 2) == [3, 0] and is_collapsed([3, 0])
    assert predicted_class_counts(proba[:, ::-1][[0, 1]], 3) == [0, 2, 0]
    assert not is_collapsed([2, 1]) and not is_collapsed([1, 0])


def test_adaptation_registry_lists_the_modes_and_names_the_setting():
    assert {"from_scratch", "linear_probe", "finetune", "lp_ft"} <= set(adaptation_names())
    assert get_adaptation("lp_ft").linear_head and not get_adaptation("from_scratch")\
        .needs_checkpoint
    with pytest.raises(ValueError, match="'adaptation' parameter.*but got 'probe'"):
        get_adaptation("probe")


def test_fit_classifier_clips_smooths_and_records_the_budget():
    from eegbench.training.loop import fit_classifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    module = nn.Sequential(nn.Linear(4, 2))
    torch.manual_seed(0)
    spec = TrainerSpec(max_epochs=3, batch_size=8, lr=1e-2, label_smoothing=0.1, grad_clip=0.5,
                       schedule="cosine", patience=None, device="cpu")
    report = fit_classifier(module, X[:30], y[:30], X[30:], y[30:], 2, spec, seed=0)
    assert report.epochs_run == 3 and report.budget["label_smoothing"] == 0.1
    assert report.budget["steps_per_epoch"] == 4 and report.budget["grad_clip"] == 0.5
    # without validation windows: every epoch runs and the last weights are kept
    report = fit_classifier(module, X, y, X[:0], y[:0], 2, spec, seed=0)
    assert report.best_epoch == 3 and "last epoch" in report.budget["selection"]
