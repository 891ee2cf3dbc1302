"""Measure BatchNorm options for EEGNet on real eegmat LOSO folds (validation and test).

Usage: ``python benchmarks/bn_statistics.py N_SUBJECTS N_FOLDS`` (the leaderboard README's
figures: ``8 4``). Reads ``$EEGBENCH_DATA_ROOT`` (default ../shared/data) and caches windows in
``$EEGBENCH_CACHE_DIR`` (default .eegbench_cache). Choose on the validation column; the test
column is for the record.
"""

import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from eegbench.data.cache import load_windows
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.metrics import compute_metrics
from eegbench.models import SignalSpec, build_model
from eegbench.protocols.splitters import make_splitter

VARIANTS = {"momentum 0.01 (braindecode default)": ({}, False),
            "momentum 0.1": ({"batch_norm_momentum": 0.1}, False),
            "momentum 0.01 + re-estimate every epoch": ({}, True)}


def main(n_subjects: int, n_folds: int) -> None:
    """Train EEGNet under each variant on the first ``n_folds`` LOSO folds; log the scores."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    subjects = [f"{i:02d}" for i in range(n_subjects)]
    ds = load_windows(load_recipe("physionet_eegmat"),
                      Path(os.environ.get("EEGBENCH_DATA_ROOT", "../shared/data")),
                      PreprocessSpec(),
                      Path(os.environ.get("EEGBENCH_CACHE_DIR", ".eegbench_cache")),
                      subjects=subjects)
    X, y = np.asarray(ds.X, dtype=np.float32), ds.y
    signal = SignalSpec.from_info(ds.info, X.shape[-1])
    scores = {k: {"valid": [], "test": []} for k in VARIANTS}
    folds = list(make_splitter("loso", seed=0, n_valid_subjects=2).split(ds.meta))[:n_folds]
    for fold in folds:
        for name, (arch, reestimate) in VARIANTS.items():
            model = build_model("eegnet", arch_params=arch,
                                trainer={"bn_reestimate": reestimate, "device": "cpu"})
            t0 = time.time()
            report = model.fit(X[fold.train], y[fold.train], X[fold.valid], y[fold.valid],
                               signal, 0)
            for part, idx in (("valid", fold.valid), ("test", fold.test)):
                scores[name][part].append(compute_metrics(
                    y[idx], model.predict_proba(X[idx]))["balanced_accuracy"])
            logging.info("%s %s: valid %.3f test %.3f, %d epochs (%.0f s)", fold.name, name,
                         scores[name]["valid"][-1], scores[name]["test"][-1],
                         report["epochs_run"], time.time() - t0)
    for name, s in scores.items():
        logging.info("%s: valid %.3f +- %.3f; test %.3f +- %.3f over %d folds", name,
                     np.mean(s["valid"]), np.std(s["valid"]), np.mean(s["test"]),
                     np.std(s["test"]), len(s["test"]))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
