"""Epoch selection on the validation ROC AUC and the binary one-logit head (BCE)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from eegbench.adaptation.probe import final_linear
from eegbench.models.binary_head import OneLogitHead
from eegbench.models.fold_parallel import model_blockers
from eegbench.models.torch_model import HeadSpec, make_head
from eegbench.training.loop import TrainerSpec, fit_classifier, predict_proba
from eegbench.training.selection import effective_select_on


def _noisy_binary(seed: int = 3):
    """Small training set, larger validation set: the validation loss is lowest after epoch 1
    while the validation ROC AUC keeps rising for a few epochs (an overconfident model)."""
    rng = np.random.default_rng(seed)

    def make(n):
        X = rng.normal(size=(n, 8, 8)).astype(np.float32)
        y = (X[:, 0, 0] + X[:, 0, 1] + 1.5 * rng.normal(size=n) > 0).astype(int)
        return X, y

    return (*make(40), *make(60))


def _fit(select_on: str, head: nn.Module | None = None, **spec):
    X_train, y_train, X_valid, y_valid = _noisy_binary()
    torch.manual_seed(0)
    module = nn.Sequential(nn.Flatten(), head or nn.Linear(64, 2))
    settings = dict(max_epochs=15, batch_size=8, lr=5e-2, select_on=select_on, patience=None,
                    num_threads=1) | spec
    report = fit_classifier(module, X_train, y_train, X_valid, y_valid, 2,
                            TrainerSpec(**settings), seed=0)
    return module, report, (X_valid, y_valid)


def test_roc_auc_selection_restores_the_epoch_of_best_validation_auc():
    module, report, (X_valid, y_valid) = _fit("roc_auc")
    aucs = [h["valid_roc_auc"] for h in report.history]
    assert report.epochs_run == 15 and len(aucs) == 15
    assert report.best_epoch == int(np.argmax(aucs)) + 1  # first epoch of the highest AUC
    assert report.budget["selection"] == "best validation ROC AUC"
    restored = roc_auc_score(y_valid, predict_proba(module, X_valid)[:, 1])
    assert restored == pytest.approx(aucs[report.best_epoch - 1], abs=1e-6)
    # the same fit selected on the loss keeps another epoch: the criterion matters here
    _, by_loss, _ = _fit("loss")
    losses = [h["valid_loss"] for h in by_loss.history]
    assert by_loss.best_epoch == int(np.argmin(losses)) + 1
    assert by_loss.best_epoch != report.best_epoch
    assert report.best_valid_loss == pytest.approx(
        report.history[report.best_epoch - 1]["valid_loss"])


def test_roc_auc_selection_needs_both_classes_and_falls_back_on_multiclass():
    with pytest.raises(ValueError, match="both classes"):
        effective_select_on("roc_auc", np.zeros(10, dtype=int), 2)
    assert effective_select_on("roc_auc", np.array([0, 1, 2]), 3) == "loss"
    assert effective_select_on("roc_auc", np.array([0, 1]), 2) == "roc_auc"
    with pytest.raises(ValueError, match="trainer.select_on"):
        TrainerSpec(select_on="accuracy")


def test_one_logit_head_is_bce_and_gives_two_column_probabilities():
    head = make_head(HeadSpec(binary="one_logit"), 64, 2)
    assert isinstance(head, OneLogitHead) and final_linear(head).out_features == 1
    features = torch.randn(32, 64)
    y = torch.randint(0, 2, (32,))
    logits = head(features)
    z = head.head(features)[:, 0]
    assert logits.shape == (32, 2)
    ce = nn.functional.cross_entropy(logits, y)
    bce = nn.functional.binary_cross_entropy_with_logits(z, y.float())
    assert ce.item() == pytest.approx(bce.item(), rel=1e-6)
    # multi-class tasks keep one logit per class
    assert final_linear(make_head(HeadSpec(binary="one_logit"), 64, 3)).out_features == 3
    with pytest.raises(ValueError, match="head.binary"):
        HeadSpec.from_config({"binary": "sigmoid"})


def test_one_logit_head_trains_and_feeds_the_metrics_two_columns():
    head = make_head(HeadSpec(binary="one_logit"), 64, 2)
    module, report, (X_valid, y_valid) = _fit("roc_auc", head=head, class_weighting="none")
    proba = predict_proba(module, X_valid)
    assert proba.shape == (len(X_valid), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    z = module[1].head(module[0](torch.as_tensor(X_valid)))[:, 0].detach()
    np.testing.assert_allclose(proba[:, 1], torch.sigmoid(z).numpy(), rtol=1e-5)
    assert report.history[-1]["train_loss"] < report.history[0]["train_loss"]
    assert roc_auc_score(y_valid, proba[:, 1]) > 0.6


def test_folds_with_auc_selection_or_one_logit_head_are_not_stacked():
    class Model:
        adaptation = "from_scratch"
        trainer = TrainerSpec(select_on="roc_auc")
        head = HeadSpec(binary="one_logit")

    reasons = " ".join(model_blockers(Model()))
    assert "select_on" in reasons and "one_logit" in reasons
