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

    from eegbench.conformance import check_model
    check_model("my_model", params={"arch_params": {...}}, data_root="/data/eeg")

It trains on a few real PhysioNet eegmat windows found under ``data_root`` (default:
``$EEGBENCH_DATA_ROOT``, else ``../shared/data`` relative to the working directory), prints
which checks passed ("9/9 checks passed: fit, ...") and returns a :class:`CheckReport`.
"""

from __future__ import annotations

import copy
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eegbench.data.cache import load_windows
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.models.base import BenchmarkModel, SignalSpec, build_model

logger = logging.getLogger(__name__)

#: One epoch, no early stopping: a single short training run.
CHECK_TRAINER = {"max_epochs": 1, "batch_size": 16, "lr": 1e-3, "patience": 1,
                 "device": "cpu"}


class ConformanceError(AssertionError):
    """A model violates the benchmark's model contract."""


#: Every check, in the order they run (torch-only and optional ones are skipped when they
#: do not apply: a classical pipeline has no module; ``encode`` and ``save``/``load`` are
#: optional methods).
ALL_CHECKS = ("fit", "predict_proba", "n_parameters", "encode", "forward_features/forward_head",
              "train_step", "reset_head", "named_layers", "save/load")
#: The recordings the checks train on (a few subjects of PhysioNet eegmat).
CHECK_RECIPE = "physionet_eegmat"


@dataclass
class CheckReport:
    """What :func:`check_model` verified (``str()`` gives the summary line it prints)."""

    name: str
    n_parameters: int
    n_features: int | None
    fit_report: dict[str, Any] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``check_model(<name>): k/k checks passed: ...`` (and the checks that do not apply)."""
        n = len(self.checks)
        text = f"check_model({self.name}): {n}/{n} checks passed: {', '.join(self.checks)}"
        if self.not_applicable:
            text += f" (not applicable to this model: {', '.join(self.not_applicable)})"
        return text

    def __str__(self) -> str:
        return self.summary()


def _data_root(data_root: str | Path | None) -> tuple[Path, str]:
    """The data root to read and where it came from (for the message when it is empty)."""
    if data_root is not None:
        return Path(data_root), "the data_root argument"
    if os.environ.get("EEGBENCH_DATA_ROOT"):
        return Path(os.environ["EEGBENCH_DATA_ROOT"]), "$EEGBENCH_DATA_ROOT"
    return Path("../shared/data"), "the default ../shared/data"


def real_batch(data_root: str | Path | None = None, cache_dir: str | Path | None = None,
               n_subjects: int = 3, per_subject: int = 8
               ) -> tuple[np.ndarray, np.ndarray, SignalSpec]:
    """Return a small balanced batch of real eegmat windows (both classes per subject).

    Parameters
    ----------
    data_root, cache_dir : path, optional
        Defaults: ``$EEGBENCH_DATA_ROOT`` (else ``../shared/data``, relative to the working
        directory) and ``$EEGBENCH_CACHE_DIR`` (else ``.eegbench_cache``).
    n_subjects, per_subject : int
        Subjects and windows per subject (half of each class).

    Raises
    ------
    FileNotFoundError
        If the recordings are not under the data root (the message says where it looked and
        how to point at them).
    """
    recipe = load_recipe(CHECK_RECIPE)
    root, source = _data_root(data_root)
    cache = Path(cache_dir or os.environ.get("EEGBENCH_CACHE_DIR", ".eegbench_cache"))
    subjects = [f"{i:02d}" for i in range(n_subjects)]
    folder = root / recipe.source["folder"]
    if not folder.is_dir() or not any(folder.iterdir()):
        raise FileNotFoundError(
            f"check_model trains on a few real recordings of {CHECK_RECIPE} (subjects "
            f"{', '.join(subjects)}), but found none: looked in {folder.resolve()} (data root "
            f"from {source}; working directory {Path.cwd()}). Pass the folder that holds "
            f"'{recipe.source['folder']}/' as check_model(name, data_root=...) or set "
            f"EEGBENCH_DATA_ROOT, or download the files with `eegbench data fetch "
            f"{CHECK_RECIPE} --subjects {','.join(subjects)} --data-root <folder>`.")
    ds = load_windows(recipe, root, PreprocessSpec(), cache, subjects=subjects)
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
                seed: int = 0, data_root: str | Path | None = None,
                cache_dir: str | Path | None = None, verbose: bool = True) -> CheckReport:
    """Run the model contract checks on model ``name`` and return what was checked.

    Parameters
    ----------
    name : str
        A registered model (plugins included).
    params : dict, optional
        Factory parameters (e.g. small ``arch_params`` to keep the check fast). A ``trainer``
        is added when absent (:data:`CHECK_TRAINER`).
    batch : (X, y, SignalSpec), optional
        Data to use; default :func:`real_batch` from ``data_root``.
    seed : int
        Seed for the fit.
    data_root, cache_dir : path, optional
        Where the eegmat recordings are and where their windows are cached (defaults:
        ``$EEGBENCH_DATA_ROOT`` else ``../shared/data``; ``$EEGBENCH_CACHE_DIR`` else
        ``.eegbench_cache``). Unused with ``batch``.
    verbose : bool
        Print the summary line (``check_model(<name>): 9/9 checks passed: ...``).

    Raises
    ------
    ConformanceError
        On the first violated rule (the message lists the checks that passed before it).
    FileNotFoundError
        If no ``batch`` is given and the recordings are not under the data root.
    """
    report = CheckReport(name=name, n_parameters=0, n_features=None)
    try:
        _run_checks(name, params, batch, seed, data_root, cache_dir, report)
    except ConformanceError as err:
        passed = ", ".join(report.checks) or "none"
        raise ConformanceError(f"{err} (checks passed before this one: {passed})") from None
    report.not_applicable = [c for c in ALL_CHECKS if c not in report.checks]
    logger.info("%s", report.summary())
    if verbose:
        print(report.summary())  # noqa: T201 - the kit's output for the model author
    return report


def _run_checks(name: str, params: dict[str, Any] | None,
                batch: tuple[np.ndarray, np.ndarray, SignalSpec] | None, seed: int,
                data_root: str | Path | None, cache_dir: str | Path | None,
                report: CheckReport) -> None:
    """Run every applicable check, appending each one that passes to ``report.checks``."""
    params = dict(params or {})
    params.setdefault("trainer", dict(CHECK_TRAINER))
    X, y, signal = batch if batch is not None else real_batch(data_root, cache_dir)
    half = len(X) // 2
    model = build_model(name, **params)
    _check(isinstance(model, BenchmarkModel), name,
           f"the factory returned {type(model).__name__}, not a BenchmarkModel")

    initial = None
    fit_report = model.fit(X, y, X[half:], y[half:], signal, seed)
    _check(isinstance(fit_report, dict), name, "fit() must return a dict")
    report.fit_report = fit_report
    report.checks.append("fit")
    module = getattr(model, "module", None)
    if module is not None:
        # train one more step from a copy to verify that the training step changes weights
        initial = copy.deepcopy(module.state_dict())

    regression = getattr(model, "task", "classification") == "regression"
    predict = model.predict if regression else model.predict_proba
    proba = predict(X)
    if regression:  # a regressor: one finite number per window
        _check(proba.shape == (len(X),), name,
               f"predict shape {proba.shape}, expected {(len(X),)}")
        _check(bool(np.isfinite(proba).all()), name, "predict returned non-finite values")
        report.checks.append("predict")
    else:
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
        _check_torch(name, model, module, X, y, signal, initial, feats, report)

    if hasattr(model, "save") and hasattr(model, "load"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.bin"
            model.save(path)
            clone = build_model(name, **params).load(path)
            again = clone.predict(X) if regression else clone.predict_proba(X)
        _check(np.allclose(again, proba, atol=1e-5), name,
               "predictions differ after save() / load()")
        report.checks.append("save/load")


def _check_torch(name, model, module, X, y, signal, initial, feats, report) -> None:
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
    report.checks.append("forward_features/forward_head")

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
    report.checks.append("train_step")
    module.load_state_dict(initial)
    module.eval()

    head = copy.deepcopy(module.head)
    module.reset_head(signal.n_outputs + 1)
    with torch.no_grad():
        _check(module(xb).shape == (4, signal.n_outputs + 1), name,
               "reset_head(n) must give n outputs")
    module.head = head
    report.checks.append("reset_head")
    layers = module.named_layers()
    _check(len(layers) > 0 and all(isinstance(m, torch.nn.Module) for _, m in layers), name,
           "named_layers() must list (name, module) pairs")
    report.checks.append("named_layers")
