"""Leakage audits: paired clean and leaky variants of the same protocol folds.

An audit reuses the folds of the configured protocol (the clean variant is the suite's real
protocol) and adds one leak at a time:

``window_kfold``
    The test subject's windows are split at random: a random 1/``n_folds`` of them is tested,
    the rest joins the training data (window-level K-fold, the classic record-wise leak:
    neighbouring windows of one recording end up on both sides).
``normalise_all``
    Per-channel z-scoring with statistics of *all* windows, test subject included; paired with
    ``normalise_train`` (the same z-scoring fitted on the fold's training windows only).
``early_stop_on_test``
    The test windows are the validation data (early stopping and model selection see the
    test subject). Deep models only: classical pipelines do not use validation data.
``pretraining_contains_test``
    Applies to pretrained checkpoints whose corpus holds the evaluation dataset; the suite
    cannot build such a checkpoint on the fly, so the variant is reported as not run.

Rows of a variant have protocol ``<protocol>~leaky:<variant>`` (or ``~clean:<variant>``) and a
config hash that includes the variant; ``fit_report`` records the hash and protocol of the
clean rows they pair with (:func:`eegbench.leaderboard.sections.audit_table`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from eegbench.protocols.splitters import Fold

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    """One audit variant: how it changes a fold and/or the windows."""

    name: str
    kind: str  # "leaky" or "clean"
    fold_fn: Callable[[Fold, pd.DataFrame, int, int, int], Fold] | None = None
    #: X -> X given (train indices, all indices); None keeps the windows.
    normalise: str | None = None
    deep_only: bool = False
    #: Name of the clean variant this leaky one pairs with (None: the real protocol).
    clean_pair: str | None = None

    @property
    def label(self) -> str:
        """Protocol label suffix of the variant's rows."""
        return f"~{self.kind}:{self.name}"


def _window_kfold(fold: Fold, meta: pd.DataFrame, seed: int, index: int, n_folds: int) -> Fold:
    subjects = meta["subject"].astype(str).to_numpy()
    pool = np.setdiff1d(np.flatnonzero(np.isin(subjects, fold.test_subjects)),
                        np.r_[fold.valid, fold.calib])
    rng = np.random.default_rng([seed, index, 104729])
    test = np.sort(rng.choice(pool, size=max(1, len(pool) // n_folds), replace=False))
    train = np.union1d(fold.train, np.setdiff1d(pool, test))
    return dataclasses.replace(fold, train=train, test=test)


def _valid_is_test(fold: Fold, meta: pd.DataFrame, seed: int, index: int, n_folds: int) -> Fold:
    return dataclasses.replace(fold, valid=fold.test, valid_subjects=fold.test_subjects)


VARIANTS: dict[str, Variant] = {
    "window_kfold": Variant("window_kfold", "leaky", fold_fn=_window_kfold),
    "normalise_train": Variant("normalise_train", "clean", normalise="train"),
    "normalise_all": Variant("normalise_all", "leaky", normalise="all",
                             clean_pair="normalise_train"),
    "early_stop_on_test": Variant("early_stop_on_test", "leaky", fold_fn=_valid_is_test,
                                  deep_only=True),
}
#: Variants named in configs that cannot run here (reported, not silently dropped).
NOT_RUNNABLE = {"pretraining_contains_test": "needs a checkpoint pretrained on a corpus that "
                "contains the evaluation dataset (e.g. +exp=pretrain with the dataset in "
                "pretrain.datasets); not built by the audit"}


def expand(names: list[str]) -> list[Variant]:
    """Return the variants to run for ``names`` (clean pairs first, unknown names an error)."""
    allowed = sorted([*VARIANTS, *NOT_RUNNABLE])
    out: list[Variant] = []
    for name in names:
        if name in NOT_RUNNABLE:
            logger.warning("leakage audit: variant %s not run: %s", name, NOT_RUNNABLE[name])
            continue
        if name not in VARIANTS:
            raise ValueError(f"Invalid value in 'audit.variants'. Allowed values are {allowed}, "
                             f"but got {name!r}.")
        variant = VARIANTS[name]
        if variant.clean_pair and VARIANTS[variant.clean_pair] not in out:
            out.append(VARIANTS[variant.clean_pair])
        if variant not in out:
            out.append(variant)
    return out


def normalise(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Return ``X`` z-scored per channel with the mean and std of the windows ``idx``."""
    sample = np.asarray(X[idx], dtype=np.float64)
    mean = sample.mean(axis=(0, 2), keepdims=True)[0]
    std = sample.std(axis=(0, 2), keepdims=True)[0] + 1e-12
    return ((np.asarray(X, dtype=np.float64) - mean) / std).astype(np.float32)


def variant_fold(variant: Variant, fold: Fold, meta: pd.DataFrame, seed: int, index: int,
                 n_folds: int) -> Fold:
    """Return the fold of ``variant`` built from a clean protocol fold."""
    if variant.fold_fn is None:
        return fold
    return variant.fold_fn(fold, meta, seed, index, n_folds)


def variant_windows(variant: Variant, X: np.ndarray, fold: Fold) -> np.ndarray:
    """Return the windows the variant's model sees (z-scored for the normalisation pair)."""
    if variant.normalise is None:
        return X
    if variant.normalise == "train":
        return normalise(X, fold.train)
    return normalise(X, np.arange(len(X)))
