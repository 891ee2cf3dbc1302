"""The device-resident training loop on real eegmat windows (CPU).

``fit_classifier`` keeps the windows on the device and reads the losses once per epoch; with
the same seed it must reproduce, bit for bit, the streaming loop it replaced (batches read
from the array and moved to the device one by one, a ``loss.item()`` per step). The reference
below is that loop, written with the streaming helpers that remain in :mod:`eegbench.training.loop`.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
import pytest
import torch

from eegbench.models.base import SignalSpec, build_model, load_builtin_models
from eegbench.progress import EpochProgress
from eegbench.training.batchnorm import reestimate_batchnorm
from eegbench.training.loop import (
    TrainerSpec,
    class_weights,
    fit_classifier,
    iterate_batches,
    seed_everything,
    train_one_epoch,
)
from eegbench.training.optim import make_optimizer, make_scheduler, param_groups

#: Every knob of the recipe that touches the loop: class weights, smoothing, clipping, a
#: per-step cosine schedule, a separate head lr, BatchNorm re-estimation, early stopping.
SPEC = TrainerSpec(max_epochs=3, batch_size=32, lr=2e-3, head_lr=4e-3, weight_decay=1e-2,
                   schedule="cosine", warmup_epochs=1, label_smoothing=0.1, grad_clip=1.0,
                   patience=2, bn_reestimate=True, device="cpu")


def _streaming_fit(module, X_train, y_train, X_valid, y_valid, n_classes, spec, seed):
    """The loop before the windows became resident: one host round trip per batch."""
    seed_everything(seed)
    weight = class_weights(y_train, n_classes)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=spec.label_smoothing)
    valid_loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    optimizer = make_optimizer(param_groups(module, spec), spec)
    steps = sum(1 for s in range(0, len(X_train), spec.batch_size)
                if min(spec.batch_size, len(X_train) - s) >= 2)
    scheduler = make_scheduler(optimizer, spec, steps)
    rng = np.random.default_rng(seed)
    best = (float("inf"), -1, copy.deepcopy(module.state_dict()))
    history = []
    for epoch in range(1, spec.max_epochs + 1):
        module.train()
        train_loss = train_one_epoch(module, X_train, y_train, loss_fn, optimizer,
                                     spec.batch_size, rng.permutation(len(X_train)),
                                     torch.device("cpu"), scheduler=scheduler,
                                     grad_clip=spec.grad_clip)
        reestimate_batchnorm(module, X_train, spec.batch_size)
        module.eval()
        total = 0.0
        with torch.no_grad():
            for xb, yb in iterate_batches(X_valid, y_valid, 256, np.arange(len(X_valid))):
                total += float(valid_loss_fn(module(xb), yb)) * len(yb)
        valid_loss = total / len(X_valid)
        history.append((train_loss, valid_loss))
        if valid_loss < best[0]:
            best = (valid_loss, epoch, copy.deepcopy(module.state_dict()))
        if epoch - best[1] >= spec.patience:
            break
    module.load_state_dict(best[2])
    return best[1], history


def _eegnet(ds, seed: int):
    load_builtin_models()
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])
    torch.manual_seed(seed)
    return build_model("eegnet").build(signal)


def _subjects_windows(ds, subjects):
    mask = ds.meta["subject"].isin(subjects).to_numpy()
    return np.asarray(ds.X[mask]), ds.y[mask]


def test_resident_loop_reproduces_the_streaming_loop_bit_for_bit(eegmat):
    torch.set_num_threads(1)
    subjects = sorted(eegmat.meta["subject"].unique())
    X_train, y_train = _subjects_windows(eegmat, subjects[:3])
    X_valid, y_valid = _subjects_windows(eegmat, subjects[3:4])
    reference, resident = _eegnet(eegmat, 0), _eegnet(eegmat, 0)
    best_epoch, history = _streaming_fit(reference, X_train, y_train, X_valid, y_valid, 2,
                                         SPEC, seed=0)
    report = fit_classifier(resident, X_train, y_train, X_valid, y_valid, 2, SPEC, seed=0)
    assert report.best_epoch == best_epoch
    assert [(h["train_loss"], h["valid_loss"]) for h in report.history] == history
    ref_state, state = reference.state_dict(), resident.state_dict()
    assert ref_state.keys() == state.keys()
    for name, value in ref_state.items():
        assert torch.equal(value, state[name]), name
    # the losses moved: this is a real fit, not a no-op
    assert history[0][0] != history[-1][0]


def test_bf16_autocast_trains_and_is_recorded(eegmat):
    subjects = sorted(eegmat.meta["subject"].unique())
    X_train, y_train = _subjects_windows(eegmat, subjects[:2])
    X_valid, y_valid = _subjects_windows(eegmat, subjects[2:3])
    module = _eegnet(eegmat, 0)
    spec = SPEC.merged(max_epochs=2, precision="bf16", bn_reestimate=False)
    report = fit_classifier(module, X_train, y_train, X_valid, y_valid, 2, spec, seed=0)
    assert report.budget["precision"] == "bf16" and report.epochs_run >= 1
    assert all(np.isfinite(h["train_loss"]) for h in report.history)
    assert all(p.dtype == torch.float32 for p in module.parameters())
    with pytest.raises(ValueError, match="trainer.precision.*'fp16'"):
        TrainerSpec(precision="fp16")
    with pytest.raises(ValueError, match="trainer.fold_parallel.*'sometimes'"):
        TrainerSpec(fold_parallel="sometimes")
    assert TrainerSpec(fold_parallel=True).fold_parallel == "true"


def test_progress_logs_a_line_per_fold_off_a_terminal(caplog):
    """Off a terminal no bar is drawn; the first epoch and the end of a fit are logged."""
    caplog.set_level(logging.INFO, logger="eegbench.progress")
    progress = EpochProgress(5, what="eegnet seed 0 fold 2/36 sub-07", bar=False)
    for epoch in range(1, 4):
        progress.update(epoch, 0.7 - 0.1 * epoch, 0.8 - 0.05 * epoch, best_epoch=epoch)
    progress.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "eegbench.progress"]
    assert lines[0].startswith("eegnet seed 0 fold 2/36 sub-07: epoch 1/5 train 0.600")
    assert "ETA" in lines[0]
    assert lines[-1].startswith("eegnet seed 0 fold 2/36 sub-07: done after 3/5 epochs")
    assert len(lines) == 2  # epochs 2 and 3 came within the logging interval


def test_fit_classifier_reports_progress_for_the_current_fold(eegmat, caplog, capsys):
    from eegbench.progress import fold_label

    caplog.set_level(logging.INFO, logger="eegbench.progress")
    subjects = sorted(eegmat.meta["subject"].unique())
    X_train, y_train = _subjects_windows(eegmat, subjects[:1])
    X_valid, y_valid = _subjects_windows(eegmat, subjects[1:2])
    with fold_label("eegnet seed 0 fold 1/2 sub-01"):
        fit_classifier(_eegnet(eegmat, 0), X_train, y_train, X_valid, y_valid, 2,
                       SPEC.merged(max_epochs=1, bn_reestimate=False), seed=0)
    lines = [r.getMessage() for r in caplog.records if r.name == "eegbench.progress"]
    assert any(line.startswith("eegnet seed 0 fold 1/2 sub-01: epoch 1/1") for line in lines)
    assert "\r" not in capsys.readouterr().err  # no bar redraws in a log
