"""Adapting a trained torch model: few-shot calibration and layer-wise linear probing.

* :func:`calibrate` fine-tunes a copy of a trained model on a few labelled windows of the
  test subject (few-shot "cross-subject then calibrate").
* :func:`layer_probe` fits a logistic-regression probe on the activations of each named child
  of any ``torch.nn.Module`` (forward hooks), e.g. a braindecode ``EEGNet``, to show at which
  depth the transferable features live.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.nn import functional as F

from eegbench.metrics import compute_metrics
from eegbench.results.schema import ResultRow
from eegbench.train import class_weights, iterate_batches, seed_everything, train_one_epoch

logger = logging.getLogger(__name__)

#: Layers that are the identity at evaluation time (probing them repeats the previous layer).
_SKIPPED_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.Identity)


@dataclass(frozen=True)
class CalibrationSpec:
    """How a cross-subject deep model is fine-tuned on the k calibration windows.

    A fixed budget (no early stopping: the only labelled data of the test subject are the
    calibration windows, and nothing may be selected on its evaluated windows).

    Attributes
    ----------
    max_epochs : int
        Passes over the calibration windows.
    lr : float
        AdamW learning rate (smaller than training, to stay near the cross-subject solution).
    batch_size : int
        Mini-batch size.
    freeze_norm : bool
        Keep normalisation layers in evaluation mode (their running statistics are not
        re-estimated from a handful of windows).
    """

    max_epochs: int = 10
    lr: float = 3e-4
    batch_size: int = 32
    freeze_norm: bool = True

    @classmethod
    def from_config(cls, cfg: Any) -> CalibrationSpec:
        """Build from a mapping (``None`` gives the defaults); unknown keys are an error."""
        cfg = dict(cfg or {})
        unknown = sorted(set(cfg) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"Invalid key(s) {unknown} in protocol.calibrate. Allowed keys are "
                             f"{sorted(cls.__dataclass_fields__)}.")
        return cls(**cfg)


def torch_module(model: Any) -> nn.Module | None:
    """Return the fitted ``torch.nn.Module`` of a benchmark model, or None (classical)."""
    module = getattr(model, "module", None)
    return module if isinstance(module, nn.Module) else None


def _set_train_mode(module: nn.Module, freeze_norm: bool) -> None:
    module.train()
    if freeze_norm:
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._NormBase | nn.GroupNorm | nn.LayerNorm):
                m.eval()


def finetune_on_shots(module: nn.Module, X: np.ndarray, y: np.ndarray, n_classes: int,
                      spec: CalibrationSpec, seed: int) -> dict[str, Any]:
    """Fine-tune every trainable parameter of ``module`` on (X, y) for a fixed budget.

    Returns
    -------
    dict
        ``calib_epochs`` and the last epoch's ``calib_loss``.
    """
    seed_everything(seed)
    device = next(module.parameters()).device
    loss_fn = nn.CrossEntropyLoss(weight=class_weights(np.asarray(y), n_classes).to(device))
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec.lr)
    rng = np.random.default_rng(seed)
    loss_value = float("nan")
    for _ in range(spec.max_epochs):
        _set_train_mode(module, spec.freeze_norm)
        loss_value = train_one_epoch(module, X, y, loss_fn, optimizer, spec.batch_size,
                                     rng.permutation(len(X)), device, min_batch_size=1)
    module.eval()
    return {"calib_epochs": spec.max_epochs, "calib_loss": loss_value}


def calibrate(model: Any, X: np.ndarray, y: np.ndarray, n_classes: int,
              spec: CalibrationSpec, seed: int) -> tuple[Any, dict[str, Any]]:
    """Return a fine-tuned *copy* of a fitted deep benchmark model (the original is unchanged).

    Raises
    ------
    TypeError
        If ``model`` has no fitted ``module`` attribute (a classical model: refit it on the
        training and calibration windows instead).
    """
    if torch_module(model) is None:
        raise TypeError(f"{type(model).__name__} has no fitted torch module to calibrate.")
    calibrated = copy.deepcopy(model)
    report = finetune_on_shots(calibrated.module, X, y, n_classes, spec, seed)
    return calibrated, report


# --------------------------------------------------------------------------- layer probing


def probe_candidates(module: nn.Module) -> dict[str, nn.Module]:
    """Return the layers of ``module`` that can be probed, by name, in forward order.

    A model that lists its own layers (``named_layers()``, e.g. eegbench's
    :class:`~eegbench.models.torch_model.EncoderClassifier`) is probed on those layers plus its
    ``head``; any other network on its named children.
    """
    own = getattr(module, "named_layers", None)
    if callable(own):
        layers = dict(own())
        head = getattr(module, "head", None)
        if isinstance(head, nn.Module):
            layers["head"] = head
        return layers
    return dict(module.named_children())


def probe_layer_names(module: nn.Module) -> list[str]:
    """Return the named children of ``module`` worth probing.

    Skipped: dropout / identity layers (the identity at evaluation time) and the leading
    parameter-free children (input reshaping such as braindecode's ``ensuredims``: the
    input itself is probed as ``"input"``).
    """
    names, seen_parameters = [], False
    for name, child in probe_candidates(module).items():
        seen_parameters = seen_parameters or any(True for _ in child.parameters())
        if seen_parameters and not isinstance(child, _SKIPPED_TYPES):
            names.append(name)
    if not names:
        raise ValueError(f"{type(module).__name__} has no named children to probe.")
    return names


def _pool(out: torch.Tensor, max_features: int) -> torch.Tensor:
    """Flatten a batch of activations, average-pooling trailing axes to <= max_features."""
    batch = out.shape[0]
    flat = out.reshape(batch, -1)
    if flat.shape[1] <= max_features:
        return flat
    if out.ndim >= 3 and out.shape[1] <= max_features:
        bins = max(1, max_features // out.shape[1])
        return F.adaptive_avg_pool1d(out.reshape(batch, out.shape[1], -1), bins).reshape(batch, -1)
    return F.adaptive_avg_pool1d(flat.unsqueeze(1), max_features).squeeze(1)


@torch.no_grad()
def layer_features(module: nn.Module, X: np.ndarray, layers: Sequence[str] | None = None,
                   max_features: int = 512, batch_size: int = 128,
                   include_input: bool = True) -> dict[str, np.ndarray]:
    """Collect each layer's activations on ``X`` with forward hooks (evaluation mode).

    Parameters
    ----------
    module : nn.Module
        A fitted network; only its named children can be probed.
    X : ndarray, shape (n_windows, n_channels, n_times)
        Windows.
    layers : sequence of str, optional
        Names of children (default: :func:`probe_layer_names`).
    max_features : int
        Activations larger than this are average-pooled along their trailing axes (channel /
        feature-map axis kept when possible).
    batch_size : int
        Windows per forward pass.
    include_input : bool
        Also return the (pooled) input as layer ``"input"``, a no-learning baseline.

    Returns
    -------
    dict
        Layer name -> array (n_windows, n_features), in network order.
    """
    children = probe_candidates(module)
    layers = list(layers) if layers is not None else probe_layer_names(module)
    missing = [name for name in layers if name not in children]
    if missing:
        raise ValueError(f"Invalid layer name(s) {missing}. Allowed values are "
                         f"{list(children)}.")
    store: dict[str, list[np.ndarray]] = {name: [] for name in
                                          (["input"] if include_input else []) + layers}

    def hook_for(name: str):
        def hook(_mod, _inp, out):
            out = out[0] if isinstance(out, tuple | list) else out
            store[name].append(_pool(out.detach().float(), max_features).cpu().numpy())
        return hook

    handles = [children[name].register_forward_hook(hook_for(name)) for name in layers]
    device = next(module.parameters()).device
    was_training = module.training
    module.eval()
    try:
        for xb, _ in iterate_batches(X, None, batch_size, np.arange(len(X))):
            if include_input:
                store["input"].append(_pool(xb, max_features).numpy())
            module(xb.to(device))
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return {name: np.concatenate(parts) for name, parts in store.items()}


def layer_probe(module: nn.Module, X_train: np.ndarray, y_train: np.ndarray,
                X_test: np.ndarray, y_test: np.ndarray, layers: Sequence[str] | None = None,
                max_features: int = 512, C: float = 1.0, include_input: bool = True
                ) -> pd.DataFrame:
    """Fit a linear probe on each layer's frozen activations and score it on the test windows.

    The probe is ``StandardScaler -> LogisticRegression(class_weight="balanced")`` fitted on
    the activations of the training windows only (fixed ``C``; nothing is tuned on the test
    windows).

    Returns
    -------
    DataFrame
        One row per layer in network order: ``depth``, ``layer``, ``n_features``,
        ``n_probe_parameters``, ``fit_seconds`` and every metric of
        :func:`eegbench.metrics.compute_metrics`.
    """
    train = layer_features(module, X_train, layers, max_features, include_input=include_input)
    test = layer_features(module, X_test, layers, max_features, include_input=include_input)
    rows = []
    for depth, name in enumerate(train):
        probe = make_pipeline(StandardScaler(),
                              LogisticRegression(C=C, max_iter=2000, class_weight="balanced"))
        t0 = time.perf_counter()
        probe.fit(train[name], y_train)
        seconds = time.perf_counter() - t0
        clf = probe[-1]
        proba = np.zeros((len(X_test), int(max(np.max(y_train), np.max(y_test))) + 1))
        proba[:, probe.classes_] = probe.predict_proba(test[name])
        rows.append({"depth": depth, "layer": name, "n_features": train[name].shape[1],
                     "n_probe_parameters": int(clf.coef_.size + clf.intercept_.size),
                     "fit_seconds": seconds, **compute_metrics(np.asarray(y_test), proba)})
        logger.debug("layer %s (%d features): balanced accuracy %.3f", name,
                     train[name].shape[1], rows[-1]["balanced_accuracy"])
    return pd.DataFrame(rows)


def probe_adaptation(depth: int, layer: str) -> str:
    """Return the ``adaptation`` label of a layer-probe result row."""
    return f"layer_probe:{depth:02d}-{layer}"


#: Adaptation of the first probe row of a fold (the input baseline): its presence in the store
#: marks the fold's layer probes as done.
FIRST_PROBE_ADAPTATION = probe_adaptation(0, "input")


def layer_probe_rows(row: ResultRow, module: nn.Module, X: np.ndarray, y: np.ndarray,
                     train: np.ndarray, test: np.ndarray, max_features: int = 512
                     ) -> list[ResultRow]:
    """Probe every layer of a fold's trained ``module``; one result row per layer.

    The probes are fitted on the activations of the fold's *training* windows (frozen
    network) and scored on its test windows. Each row copies ``row`` (the fine-tuned model's
    row) with ``adaptation`` = ``layer_probe:<depth>-<layer>``, the probe's metrics, its
    parameter count and fitting time; ``fit_report`` keeps the layer and feature count.
    """
    t0 = time.perf_counter()
    table = layer_probe(module, X[train], y[train], X[test], y[test],
                        max_features=max_features)
    total = time.perf_counter() - t0
    rows = []
    for rec in table.to_dict("records"):
        metrics = {k: rec[k] for k in row.metrics}
        rows.append(dataclasses.replace(
            row, adaptation=probe_adaptation(int(rec["depth"]), str(rec["layer"])),
            metrics=metrics, n_parameters=int(rec["n_probe_parameters"]),
            train_seconds=round(float(rec["fit_seconds"]), 3),
            fit_report={"probe": "StandardScaler + LogisticRegression on frozen activations",
                        "layer": rec["layer"], "depth": int(rec["depth"]),
                        "n_features": int(rec["n_features"]),
                        "all_layers_seconds": round(total, 3),
                        "network_train_seconds": row.train_seconds}))
    return rows
