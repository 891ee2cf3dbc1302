"""The linear probe: a converged L2 logistic regression on frozen, standardised features.

A probe answers "how linearly separable are the frozen representations?"; it must therefore
be an optimisation that has converged, not a few epochs of a gradient-trained head. The probe
is scikit-learn's ``StandardScaler -> LogisticRegression`` (L2, lbfgs, balanced class
weights), fitted on the features of the training windows only, with ``C`` fixed a priori
(recorded in the row) and convergence reported by scikit-learn (``n_iter_`` below
``max_iter`` and no :class:`~sklearn.exceptions.ConvergenceWarning`).

The fitted probe is written into the model's linear head (the scaler folded into the weights),
so the probed model predicts exactly what the scikit-learn probe predicts, layer probes and
LP-FT start from it, and saving / loading work as for any torch model.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from eegbench.adaptation.registry import Adaptation
from eegbench.checks import check_keys
from eegbench.training.loop import resolve_device


@dataclass(frozen=True)
class ProbeSpec:
    """Linear-probe settings (model yaml ``params.probe``).

    Attributes
    ----------
    readout : {"mean", "cls", "flatten"}
        Encoder readout the probe sees (foundation models).
    C : float
        Inverse L2 strength, fixed a priori: 1.0 is scikit-learn's default, on standardised
        features (no value is tuned on any subject).
    max_iter : int
        lbfgs iteration limit (convergence is checked and recorded, never assumed).
    tol : float
        lbfgs tolerance (scikit-learn's default).
    """

    readout: str = "mean"
    C: float = 1.0
    max_iter: int = 10_000
    tol: float = 1e-4

    @classmethod
    def from_config(cls, cfg: Any) -> ProbeSpec:
        """Build from a mapping (``None`` gives the defaults); unknown keys are an error."""
        cfg = dict(cfg or {})
        check_keys("model.params.probe", list(cfg), list(cls.__dataclass_fields__))
        return cls(**cfg)


def fit_probe(features: np.ndarray, y: np.ndarray, spec: ProbeSpec
              ) -> tuple[Pipeline, dict[str, Any]]:
    """Fit ``StandardScaler -> LogisticRegression`` on ``features``; report convergence.

    Returns
    -------
    pipeline : Pipeline
        The fitted probe.
    report : dict
        ``C``, ``n_iter``, ``max_iter``, ``converged`` (scikit-learn's own verdict),
        ``n_features``, ``n_windows`` and ``fit_seconds``.
    """
    probe = make_pipeline(StandardScaler(), LogisticRegression(
        C=spec.C, max_iter=spec.max_iter, tol=spec.tol, class_weight="balanced"))
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        probe.fit(np.asarray(features, dtype=np.float64), np.asarray(y))
    n_iter = int(np.max(probe[-1].n_iter_))
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    report = {"probe": "StandardScaler + LogisticRegression(L2, lbfgs, balanced)",
              "C": float(spec.C), "C_source": "a priori (scikit-learn default, not tuned)",
              "n_iter": n_iter, "max_iter": int(spec.max_iter),
              "converged": bool(n_iter < spec.max_iter and not warned),
              "n_features": int(features.shape[1]), "n_windows": int(len(features)),
              "fit_seconds": round(time.perf_counter() - t0, 3)}
    return probe, report


def final_linear(head: nn.Module) -> nn.Linear:
    """Return the last linear layer of a head (the head itself when it is linear).

    Raises
    ------
    TypeError
        If ``head`` has no ``nn.Linear``.
    """
    if isinstance(head, nn.Linear):
        return head
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise TypeError(f"{type(head).__name__} has no linear layer.")
    return linears[-1]


@torch.no_grad()
def write_probe_into_head(probe: Pipeline, head: nn.Linear, n_classes: int) -> None:
    """Set ``head`` so that ``softmax(head(x))`` equals ``probe.predict_proba(x)``.

    The scaler is folded in (``w / scale``, ``b - w . mean / scale``). A binary probe's single
    logit ``z`` becomes the logits ``[0, z]``; a class absent from the training windows gets a
    large negative bias.
    """
    scaler, clf = probe[0], probe[-1]
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    coef = clf.coef_ / scale
    intercept = clf.intercept_ - coef @ scaler.mean_
    weight = np.zeros((n_classes, coef.shape[1]))
    bias = np.full(n_classes, -1e4)
    classes = np.asarray(clf.classes_, dtype=int)
    if len(classes) == 2 and coef.shape[0] == 1:
        weight[classes[1]], bias[classes[1]] = coef[0], intercept[0]
        bias[classes[0]] = 0.0
    else:
        weight[classes], bias[classes] = coef, intercept
    head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
    head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))


def probe_model(model: Any, X: np.ndarray, y: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Freeze ``model.module``'s encoder, fit the probe on its features of ``X``, set the head.

    Returns the probe report (``n_trainable``: the probe's coefficients and intercepts).
    """
    module = model.module
    module.freeze_encoder()
    module.to(resolve_device(model.trainer.device))
    return probe_features(model, model.encode(X), y, n_classes)


def probe_features(model: Any, features: np.ndarray, y: np.ndarray,
                   n_classes: int) -> dict[str, Any]:
    """Fit the probe on ``features`` (the frozen encoder's readout) and set ``model``'s head.

    ``model.module``'s encoder must already be frozen; ``features`` may come from
    :meth:`~eegbench.models.torch_model.TorchBenchmarkModel.encode` or from the fold-invariant
    feature cache (:mod:`eegbench.features.frozen_encoder`): the fit is the same.
    """
    probe, report = fit_probe(features, y, model.probe)
    write_probe_into_head(probe, final_linear(model.module.head), n_classes)
    report["n_trainable"] = int(probe[-1].coef_.size + probe[-1].intercept_.size)
    return report


def train_and_valid(a_train, y_train, a_valid, y_valid) -> tuple[np.ndarray, np.ndarray]:
    """Return training and validation inputs (windows or features) and labels, stacked.

    The probe selects nothing on the validation subjects, so it learns from both.
    """
    if not len(a_valid):
        return np.asarray(a_train), np.asarray(y_train)
    return (np.concatenate([np.asarray(a_train), np.asarray(a_valid)]),
            np.concatenate([np.asarray(y_train), np.asarray(y_valid)]))


def probe_fit_report(report: dict[str, Any]) -> dict[str, Any]:
    """Return a linear probe's fit report with its budget and hyperparameter source."""
    return {**report, "trained_on": "train + validation subjects",
            "budget": {"kind": "linear_probe", "solver": "lbfgs", "C": report["C"],
                       "max_iter": report["max_iter"], "n_iter": report["n_iter"],
                       "converged": report["converged"]},
            "hp_source": f"a priori: C={report['C']} (scikit-learn default), not tuned"}


def fit_linear_probe(model: Any, X_train, y_train, X_valid, y_valid, signal, seed: int
                     ) -> dict[str, Any]:
    """Probe on the training *and* validation subjects' windows (nothing is selected on them).

    The validation subjects are training subjects of the fold: with ``C`` fixed a priori the
    probe has no early stopping or model selection, so it learns from every non-test subject
    (the protocol already passes them as training windows; any validation windows given are
    added).
    """
    X, y = train_and_valid(X_train, y_train, X_valid, y_valid)
    return probe_fit_report(probe_model(model, X, y, signal.n_outputs))


LINEAR_PROBE = Adaptation("linear_probe", fit_linear_probe, linear_head=True,
                          uses_validation=False,
                          description="frozen encoder, converged L2 logistic regression")
