"""Layer probes: a linear probe on every layer of each fold's trained network.

With ``protocol.layer_probe=true`` each fold of a torch model also writes one row per layer
(:func:`eegbench.adaptation.layer_probe.layer_probe_rows`), before the fold's own row, so that
a stored fold row implies that its probe rows are stored.
"""

from __future__ import annotations

import logging
from typing import Any

from eegbench.adaptation.calibration import torch_module
from eegbench.adaptation.layer_probe import FIRST_PROBE_ADAPTATION, layer_probe_rows
from eegbench.config import Job
from eegbench.data.cache import WindowsDataset
from eegbench.evaluation.identity import row_key_of
from eegbench.protocols.splitters import Fold
from eegbench.results.row import ResultRow
from eegbench.results.store import ResultStore

logger = logging.getLogger(__name__)


def probes_apply(requested: bool, prototype: Any, model_name: str) -> bool:
    """Whether layer probes run: requested, and the model is a torch network."""
    if requested and not hasattr(prototype, "module"):
        logger.info("%s has no torch module: layer_probe ignored", model_name)
        return False
    return requested


def probes_stored(store: ResultStore, job: Job, fold: Fold, seed: int, chash: str,
                  fingerprints: dict[str, Any]) -> bool:
    """Whether the first probe row of ``fold`` is in the store (then all of them are)."""
    return store.has(row_key_of(job, fold, seed, chash, fingerprints,
                                adaptation=FIRST_PROBE_ADAPTATION))


def write_probe_rows(store: ResultStore, row: ResultRow, model: Any, ds: WindowsDataset,
                     fold: Fold, max_features: int) -> int:
    """Probe every layer of ``model`` on ``fold``; write the rows; return how many."""
    module = torch_module(model)
    if module is None:
        return 0
    n = 0
    for probe_row in layer_probe_rows(row, module, ds.X, ds.y, fold.train, fold.test,
                                      max_features):
        store.write(probe_row)
        n += 1
    return n
