"""Fold-parallel training of benchmark models: what ``run_experiment`` calls.

:func:`parallel_mode` decides from ``trainer.fold_parallel`` whether the folds of a job are
trained together; :func:`train_models_together` builds one model per fold (each from its
fold's seed, as :meth:`TorchBenchmarkModel.fit` does), trains them under the model's
adaptation with :func:`~eegbench.training.fold_parallel.trainer.fit_folds_together` (the refit on
training +
validation subjects included) and hands each fitted model to a callback as soon as it is
final, with the fit report :func:`eegbench.adaptation.finetune.train_all_weights` would give.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from eegbench.adaptation.finetune import add_refit, first_stage_report, needs_refit
from eegbench.models.base import SignalSpec
from eegbench.training.batchnorm import reestimate_batchnorm
from eegbench.training.fold_parallel.stack import NotStackable
from eegbench.training.fold_parallel.support import stacking_blockers
from eegbench.training.fold_parallel.trainer import FoldTask, fit_folds_together
from eegbench.training.loop import TrainerSpec, TrainReport, resolve_device
from eegbench.training.resident import ResidentWindows

logger = logging.getLogger(__name__)

#: Adaptations that train every weight with the model's recipe (what a stack can do).
STACKABLE_ADAPTATIONS = ("from_scratch", "finetune")


def parallel_mode(spec: TrainerSpec) -> str | None:
    """Return ``"fast"``, ``"exact"`` or None (fold after fold) for ``spec.fold_parallel``.

    ``auto`` stacks on CUDA devices (one batched network instead of many small ones) and
    trains fold after fold on the CPU, where stacking EEGNet's 36 eegmat folds measured
    slower than fold after fold on an otherwise idle 2-core machine
    (``benchmarks/fold_parallel_speed.py``).
    """
    value = spec.fold_parallel
    if value == "exact":
        return "exact"
    if value == "true" or (value == "auto" and resolve_device(spec.device).type == "cuda"):
        return "fast"
    return None


def model_blockers(model: Any) -> list[str]:
    """Return why ``model``'s folds cannot be trained together before building it ([] if ok)."""
    reasons = []
    adaptation = getattr(model, "adaptation", None)
    if not isinstance(getattr(model, "trainer", None), TrainerSpec):
        reasons.append(f"{type(model).__name__} is not a torch model with a trainer recipe")
    elif adaptation not in STACKABLE_ADAPTATIONS:
        reasons.append(f"adaptation {adaptation!r} is not one of {list(STACKABLE_ADAPTATIONS)}")
    if getattr(model, "supports_fold_stacking", None) is False:
        reasons.append(f"{type(model).__name__} declares supports_fold_stacking = False")
    if getattr(getattr(model, "trainer", None), "select_on", "loss") != "loss":
        reasons.append("trainer.select_on is not 'loss' (stacked folds select on the loss)")
    if getattr(getattr(model, "head", None), "binary", None) == "one_logit":
        reasons.append("model.params.head.binary is 'one_logit'")
    return reasons


def _n_trainable(module: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in module.parameters() if p.requires_grad))


def train_models_together(
    models: Sequence[Any], X: Any, y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]], signal: SignalSpec, seeds: Sequence[int],
    exact: bool, on_done: Callable[[int, Any, dict[str, Any], float], None],
) -> None:
    """Fit ``models[k]`` on fold ``k`` for every k, the folds stacked.

    Parameters
    ----------
    models : sequence of TorchBenchmarkModel
        Fresh, unfitted models of one configuration, one per fold.
    X, y : array-like
        Every window of the dataset and its labels; folds index into them.
    folds : sequence of (train_index, valid_index)
        Each fold's training and validation windows.
    signal : SignalSpec
        The data's signal description.
    seeds : sequence of int
        Each fold's seed (initialisation, shuffling, dropout).
    exact : bool
        Per-fold convolutions (bit-identical to fold after fold on the CPU with one
        thread).
    on_done : callable
        ``on_done(k, model, fit_report, wall_seconds)`` once fold ``k`` is final;
        ``wall_seconds`` is the stack's elapsed time at that moment.

    Raises
    ------
    NotStackable
        If the models cannot be stacked (nothing was trained; train them one by one).
    """
    reasons = model_blockers(models[0])
    if reasons:
        raise NotStackable("; ".join(reasons))
    spec = models[0].trainer
    for model, seed in zip(models, seeds, strict=True):
        torch.manual_seed(int(seed))
        model.signal = signal
        model.module = model.build(signal)
    reasons = stacking_blockers(models[0].module, models[0])
    if reasons:
        raise NotStackable("; ".join(reasons))
    t0 = time.perf_counter()
    data = ResidentWindows(X, y, resolve_device(spec.device))
    initial = ([copy.deepcopy(m.module.state_dict()) for m in models]
               if spec.refit_on_train_valid else None)
    reports: dict[int, dict[str, Any]] = {}
    refits: list[int] = []
    info = {"mode": "exact" if exact else "fast", "n_folds": len(models)}

    def finish(k: int) -> None:
        models[k].report = {**reports[k], "fold_parallel": {
            **info, "wall_seconds": round(time.perf_counter() - t0, 3)}}
        on_done(k, models[k], models[k].report, time.perf_counter() - t0)

    def first_done(k: int, report: TrainReport) -> None:
        reports[k] = first_stage_report(report, _n_trainable(models[k].module))
        if initial is not None and needs_refit(spec, len(folds[k][1]), report):
            refits.append(k)
        else:
            finish(k)

    tasks = [FoldTask(m.module, np.asarray(train), np.asarray(valid), spec, int(seed))
             for m, (train, valid), seed in zip(models, folds, seeds, strict=True)]
    fit_folds_together(tasks, data, np.asarray(y), signal.n_outputs, exact, first_done)
    if not refits:
        return
    # refit from the same initialisation on train + validation for each selected epoch count
    order = sorted(refits)
    for k in order:
        models[k].module.load_state_dict(initial[k])
    all_windows = {k: np.concatenate([np.asarray(folds[k][0]), np.asarray(folds[k][1])])
                   for k in order}

    def refit_done(j: int, report: TrainReport) -> None:
        k = order[j]
        add_refit(reports[k], report)
        if spec.bn_reestimate:
            index = torch.as_tensor(all_windows[k], device=data.device)
            reports[k]["budget"]["bn_reestimated_layers"] = reestimate_batchnorm(
                models[k].module, ResidentWindows(data.X[index], None, data.device),
                spec.batch_size)
        finish(k)

    tasks = [FoldTask(models[k].module, all_windows[k], all_windows[k][:0],
                      spec.merged(max_epochs=reports[k]["best_epoch"]), int(seeds[k]))
             for k in order]
    fit_folds_together(tasks, data, np.asarray(y), signal.n_outputs, exact, refit_done)
