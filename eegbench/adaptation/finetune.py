"""Training every weight: ``from_scratch`` (random init) and ``finetune`` (pretrained init).

Both run :func:`eegbench.training.loop.fit_classifier` with the model's recipe (the trainer spec),
select the epoch on the validation subjects, optionally refit on training + validation
windows for the selected number of epochs, and optionally re-estimate BatchNorm statistics.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from eegbench.adaptation.registry import Adaptation
from eegbench.training.batchnorm import reestimate_batchnorm
from eegbench.training.loop import TrainerSpec, TrainReport, fit_classifier


def _concat(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(a), np.asarray(b)]) if len(b) else np.asarray(a)


def first_stage_report(report: TrainReport, n_trainable: int) -> dict[str, Any]:
    """Return the fit report of a training run of every weight (epoch selected on validation)."""
    return {
        "best_epoch": report.best_epoch, "epochs_run": report.epochs_run,
        "best_valid_loss": report.best_valid_loss, "n_trainable": n_trainable,
        "train_loss_first": report.history[0]["train_loss"] if report.history else None,
        "train_loss_last": report.history[-1]["train_loss"] if report.history else None,
        "trained_on": "train subjects; epoch selected on validation subjects",
        "budget": dict(report.budget)}


def add_refit(out: dict[str, Any], refit: TrainReport) -> None:
    """Record in ``out`` (a :func:`first_stage_report`) the refit on train + validation."""
    out["budget"].update(refit_epochs=refit.epochs_run, selection="refit on train + validation "
                         "subjects for the selected number of epochs")
    out.update(trained_on="train + validation subjects (refit for the selected epochs)",
               train_loss_last=refit.history[-1]["train_loss"] if refit.history else None)


def needs_refit(spec: TrainerSpec, n_valid: int, report: TrainReport) -> bool:
    """True if ``spec`` asks for a refit and the first stage selected an epoch on validation."""
    return bool(spec.refit_on_train_valid and n_valid and report.best_epoch > 0)


def train_all_weights(model: Any, X_train, y_train, X_valid, y_valid, signal, seed: int,
                      spec: TrainerSpec | None = None) -> dict[str, Any]:
    """Train ``model.module`` (every parameter that requires a gradient) under ``spec``.

    Returns
    -------
    dict
        ``best_epoch``, ``epochs_run``, ``best_valid_loss``, ``n_trainable``, ``budget``,
        the loss curve (``train_loss_first`` / ``train_loss_last``) and, with
        ``refit_on_train_valid``, the refit's epochs.
    """
    spec = spec or model.trainer
    module = model.module
    n_trainable = int(sum(p.numel() for p in module.parameters() if p.requires_grad))
    initial = copy.deepcopy(module.state_dict()) if spec.refit_on_train_valid else None
    report = fit_classifier(module, X_train, y_train, X_valid, y_valid, signal.n_outputs,
                            spec, seed)
    out = first_stage_report(report, n_trainable)
    if initial is not None and needs_refit(spec, len(X_valid), report):
        module.load_state_dict(initial)
        X_all, y_all = _concat(X_train, X_valid), _concat(y_train, y_valid)
        refit = fit_classifier(module, X_all, y_all, X_all[:0], y_all[:0], signal.n_outputs,
                               spec.merged(max_epochs=report.best_epoch), seed)
        add_refit(out, refit)
        if spec.bn_reestimate:  # after a refit on train + valid
            out["budget"]["bn_reestimated_layers"] = reestimate_batchnorm(module, X_all,
                                                                          spec.batch_size)
    return out


def fit_from_scratch(model: Any, X_train, y_train, X_valid, y_valid, signal, seed: int
                     ) -> dict[str, Any]:
    """Train a randomly initialised network end to end with the recipe."""
    return train_all_weights(model, X_train, y_train, X_valid, y_valid, signal, seed)


def fit_finetune(model: Any, X_train, y_train, X_valid, y_valid, signal, seed: int
                 ) -> dict[str, Any]:
    """Fine-tune a pretrained encoder and a fresh head end to end with the recipe."""
    return train_all_weights(model, X_train, y_train, X_valid, y_valid, signal, seed)


FROM_SCRATCH = Adaptation("from_scratch", fit_from_scratch, needs_checkpoint=False,
                          description="random initialisation, every weight trained")
FINETUNE = Adaptation("finetune", fit_finetune,
                      description="pretrained encoder, every weight trained")
