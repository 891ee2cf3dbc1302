"""Conformance kit for model authors: ``check_model(name)`` runs the model contract checks.

Every registered model (built-in or plugin) must

1. fit on a small real batch and return a report dict (one training step for torch models:
   the check uses a one-epoch trainer);
2. predict probabilities of shape (n, n_classes) that are finite and sum to one;
3. report a positive parameter count;
4. extract features with ``encode`` (n, n_features), when it implements it;
5. for torch models: expose ``forward_features`` / ``forward_head`` consistent with the full
   forward, ``reset_head`` to another number of classes, ``named_layers`` for probing, and
   change its weights during the training step;
6. save and load to identical predictions.

Plugin packages call it from their own tests::

    from eegbench.testing import check_model
    check_model("my_model", params={"arch_params": {...}})
"""

from __future__ import annotations

import copy
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eegbench.models.base import BenchmarkModel, SignalSpec, build_model

logger = logging.getLogger(__name__)

#: One epoch, no early stopping: a single short training run.
CHECK_TRAINER = {"max_epochs": 1, "batch_size": 16, "lr": 1e-3, "patience": 1,
                 "device": "cpu"}


class ConformanceError(AssertionError):
    """A model violates the benchmark's model contract."""


@dataclass
class CheckReport:
    """What :func:`check_model` verified."""

    name: str
    n_parameters: int
    n_features: int | None
    fit_report: dict[str, Any] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)


def real_batch(data_root: str | Path | None = None, cache_dir: str | Path | None = None,
               n_subjects: int = 3, per_subject: int = 8
               ) -> tuple[np.ndarray, np.ndarray, SignalSpec]:
    """Return a small balanced batch of real eegmat windows (both classes per subject).

    Parameters
    ----------
    data_root, cache_dir : path, optional
        Defaults: ``$EEGBENCH_DATA_ROOT`` (else ``../shared/data``) and
        ``$EEGBENCH_CACHE_DIR`` (else ``.eegbench_cache``).
    n_subjects, per_subject : int
        Subjects and windows per subject (half of each class).
    """
    import os

    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    root = Path(data_root or os.environ.get("EEGBENCH_DATA_ROOT", "../shared/data"))
    cache = Path(cache_dir or os.environ.get("EEGBENCH_CACHE_DIR", ".eegbench_cache"))
    ds = load_windows(load_recipe("physionet_eegmat"), root, PreprocessSpec(), cache,
                      subjects=[f"{i:02d}" for i in range(n_subjects)])
    rows = []
    for _, group in ds.meta.groupby("subject"):
        for _, cls in group.groupby("label"):
            rows.extend(cls.index[: per_subject // 2].tolist())
    idx = np.sort(np.asarray(rows))
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])
    return np.asarray(ds.X[idx], dtype=np.float32), ds.y[idx], signal


def _check(cond: bool, name: str, message: str) -> None:
    if not cond:
        raise ConformanceError(f"model {name!r}: {message}")


def check_model(name: str, params: dict[str, Any] | None = None,
                batch: tuple[np.ndarray, np.ndarray, SignalSpec] | None = None,
                seed: int = 0) -> CheckReport:
    """Run the model contract checks on model ``name`` and return what was checked.

    Parameters
    ----------
    name : str
        A registered model (plugins included).
    params : dict, optional
        Factory parameters (e.g. small ``arch_params`` to keep the check fast). A ``trainer``
        is added when absent (:data:`CHECK_TRAINER`).
    batch : (X, y, SignalSpec), optional
        Data to use; default :func:`real_batch`.
    seed : int
        Seed for the fit.

    Raises
    ------
    ConformanceError
        On the first violated rule.
    """
    params = dict(params or {})
    params.setdefault("trainer", dict(CHECK_TRAINER))
    X, y, signal = batch if batch is not None else real_batch()
    half = len(X) // 2
    model = build_model(name, **params)
    _check(isinstance(model, BenchmarkModel), name,
           f"the factory returned {type(model).__name__}, not a BenchmarkModel")
    report = CheckReport(name=name, n_parameters=0, n_features=None)

    initial = None
    fit_report = model.fit(X, y, X[half:], y[half:], signal, seed)
    _check(isinstance(fit_report, dict), name, "fit() must return a dict")
    report.fit_report = fit_report
    report.checks.append("fit")
    module = getattr(model, "module", None)
    if module is not None:
        # train one more step from a copy to verify that the training step changes weights
        initial = copy.deepcopy(module.state_dict())

    proba = model.predict_proba(X)
    _check(proba.shape == (len(X), signal.n_outputs), name,
           f"predict_proba shape {proba.shape}, expected {(len(X), signal.n_outputs)}")
    _check(bool(np.isfinite(proba).all()), name, "predict_proba returned non-finite values")
    _check(np.allclose(proba.sum(1), 1.0, atol=1e-4), name, "probabilities do not sum to 1")
    report.checks.append("predict_proba")

    report.n_parameters = int(model.n_parameters())
    _check(report.n_parameters > 0, name, "n_parameters() must be positive")
    report.checks.append("n_parameters")

    try:
        feats = model.encode(X)
    except NotImplementedError:
        feats = None
    if feats is not None:
        _check(feats.ndim == 2 and feats.shape[0] == len(X), name,
               f"encode() must return (n_windows, n_features), got {feats.shape}")
        _check(bool(np.isfinite(feats).all()), name, "encode() returned non-finite features")
        report.n_features = int(feats.shape[1])
        report.checks.append("encode")

    if module is not None:
        _check_torch(name, model, module, X, y, signal, initial, feats)
        report.checks += ["forward_features/forward_head", "reset_head", "named_layers",
                          "train_step"]

    if hasattr(model, "save") and hasattr(model, "load"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.bin"
            model.save(path)
            clone = build_model(name, **params).load(path)
            again = clone.predict_proba(X)
        _check(np.allclose(again, proba, atol=1e-5), name,
               "predictions differ after save() / load()")
        report.checks.append("save/load")
    logger.info("check_model(%s): %s", name, ", ".join(report.checks))
    return report


def _check_torch(name, model, module, X, y, signal, initial, feats) -> None:
    xb = torch.from_numpy(X[:4])
    module.eval()
    with torch.no_grad():
        full = module(xb)
        split = module.forward_head(module.forward_features(xb))
    _check(torch.allclose(full, split, atol=1e-5), name,
           "forward() differs from forward_head(forward_features())")
    if feats is not None:
        _check(np.allclose(feats[:4], module.forward_features(xb).detach().numpy(), atol=1e-4),
               name, "encode() differs from forward_features()")
    layers = module.named_layers()
    _check(len(layers) > 0 and all(isinstance(m, torch.nn.Module) for _, m in layers), name,
           "named_layers() must list (name, module) pairs")

    # one optimisation step changes the trainable weights
    module.train()
    opt = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=0.1)
    loss = torch.nn.functional.cross_entropy(module(torch.from_numpy(X[:8])),
                                             torch.from_numpy(np.asarray(y[:8])))
    opt.zero_grad()
    loss.backward()
    opt.step()
    after = module.state_dict()
    changed = [k for k in after if not torch.equal(after[k], initial[k])]
    _check(bool(changed), name, "a training step did not change any weight")
    module.load_state_dict(initial)
    module.eval()

    head = copy.deepcopy(module.head)
    module.reset_head(signal.n_outputs + 1)
    with torch.no_grad():
        _check(module(xb).shape == (4, signal.n_outputs + 1), name,
               "reset_head(n) must give n outputs")
    module.head = head
