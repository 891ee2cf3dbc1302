"""Layer-wise linear probing with the converged probe of :mod:`eegbench.adaptation.probe`.

The probe is fitted on the activations of each layer of a trained network (forward hooks), e.g.
a braindecode ``EEGNet`` or a foundation model's transformer blocks, to show at which depth the
transferable features live.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from eegbench.adaptation.probe import ProbeSpec, fit_probe
from eegbench.metrics import score_predictions
from eegbench.results.row import ResultRow
from eegbench.training.loop import iterate_batches

logger = logging.getLogger(__name__)

#: Layers that are the identity at evaluation time (probing them repeats the previous layer).
_SKIPPED_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.Identity)


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
                max_features: int = 512, C: float = 1.0, include_input: bool = True,
                spec: ProbeSpec | None = None) -> pd.DataFrame:
    """Fit a linear probe on each layer's frozen activations and score it on the test windows.

    The probe is the converged probe of :func:`eegbench.adaptation.probe.fit_probe`
    (``StandardScaler -> LogisticRegression``, balanced, L2 with ``C`` fixed a priori) fitted
    on the activations of the training windows only; nothing is tuned on the test windows.

    Returns
    -------
    DataFrame
        One row per layer in network order: ``depth``, ``layer``, ``n_features``,
        ``n_probe_parameters``, ``fit_seconds``, ``converged``, ``n_iter``, ``predictions``
        (test labels and the probe's stored probabilities) and every metric of
        :func:`eegbench.metrics.compute_metrics`, computed from the stored probabilities
        (:func:`eegbench.metrics.score_predictions`).
    """
    spec = spec or ProbeSpec(C=C)
    train = layer_features(module, X_train, layers, max_features, include_input=include_input)
    test = layer_features(module, X_test, layers, max_features, include_input=include_input)
    rows = []
    for depth, name in enumerate(train):
        probe, report = fit_probe(train[name], y_train, spec)
        seconds = report["fit_seconds"]
        clf = probe[-1]
        proba = np.zeros((len(X_test), int(max(np.max(y_train), np.max(y_test))) + 1))
        proba[:, probe.classes_] = probe.predict_proba(test[name])
        predictions, metrics = score_predictions(np.asarray(y_test), proba)
        rows.append({"depth": depth, "layer": name, "n_features": train[name].shape[1],
                     "n_probe_parameters": int(clf.coef_.size + clf.intercept_.size),
                     "fit_seconds": seconds, "converged": report["converged"],
                     "n_iter": report["n_iter"], "C": report["C"],
                     "predictions": predictions, **metrics})
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
            metrics=metrics, predictions=rec["predictions"],
            n_parameters=int(rec["n_probe_parameters"]),
            n_trainable=int(rec["n_probe_parameters"]),
            budget={"kind": "layer_probe", "solver": "lbfgs", "C": float(rec["C"]),
                    "n_iter": int(rec["n_iter"]), "converged": bool(rec["converged"])},
            hp_source=f"a priori: C={float(rec['C'])} (scikit-learn default), not tuned",
            predicted_class_counts=None, collapsed=None,
            train_seconds=round(float(rec["fit_seconds"]), 3),
            fit_report={"probe": "StandardScaler + LogisticRegression on frozen activations",
                        "layer": rec["layer"], "depth": int(rec["depth"]),
                        "n_features": int(rec["n_features"]),
                        "converged": bool(rec["converged"]), "n_iter": int(rec["n_iter"]),
                        "C": float(rec["C"]),
                        "all_layers_seconds": round(total, 3),
                        "network_train_seconds": row.train_seconds}))
    return rows
