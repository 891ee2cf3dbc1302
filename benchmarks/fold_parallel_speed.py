"""Fold-parallel vs fold-after-fold training of EEGNet on the eegmat LOSO folds, in one run.

Builds the leave-one-subject-out folds of the default protocol (2 validation subjects drawn
with seed 0), one EEGNet per fold (seed 0, as ``run_experiment`` builds them), and trains every
fold for ``--epochs`` epochs (no early stopping, so every mode does the same work): fold after
fold with ``fit_classifier`` ("sequential"), then stacked (``fit_folds_together``: "fast" = one
grouped convolution over the folds, "exact" = convolutions per fold). Prints each mode's wall
time, training windows per second, the ratio to the sequential run, and how far each mode's
per-fold losses are from the sequential ones (0 for exact on the CPU with one thread). The load
average is printed before and after.

Usage: python benchmarks/fold_parallel_speed.py [--per-class 6] [--epochs 1] [--folds 0]
         [--modes sequential,fast] [--device cpu] [--threads 2] [--windows FILE.npz]
         [--repeats 1] [--json OUT.json]
``--per-class N`` keeps the first N windows of each (subject, class) (all: ``--per-class 0``);
``--folds K`` trains the first K folds only (0: all).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import windows_subset  # noqa: E402

from eegbench.models.base import SignalSpec, build_model, load_builtin_models  # noqa: E402
from eegbench.protocols.splitters import make_splitter  # noqa: E402
from eegbench.training.fold_parallel.trainer import FoldTask, fit_folds_together  # noqa: E402
from eegbench.training.loop import TrainerSpec, fit_classifier  # noqa: E402
from eegbench.training.resident import ResidentWindows  # noqa: E402

MODES = ("sequential", "fast", "exact")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_folds(subjects: np.ndarray, n_folds: int) -> list:
    """Return the LOSO folds of the default protocol (seed 0, two validation subjects)."""
    folds = list(make_splitter("loso", seed=0, n_valid_subjects=2).split(
        pd.DataFrame({"subject": subjects})))
    return folds[:n_folds] if n_folds else folds


def run_mode(mode: str, X: np.ndarray, y: np.ndarray, folds: list, signal: SignalSpec,
             spec: TrainerSpec, model: str = "eegnet") -> dict:
    """Train every fold in ``mode``; return wall seconds and each fold's last losses."""
    def network():
        torch.manual_seed(0)
        return build_model(model).build(signal)

    device = torch.device(spec.device)
    _sync(device)
    t0 = time.perf_counter()
    if mode == "sequential":
        reports = [fit_classifier(network(), X[f.train], y[f.train], X[f.valid], y[f.valid],
                                  signal.n_outputs, spec, 0) for f in folds]
    else:
        data = ResidentWindows(X, y, device)
        tasks = [FoldTask(network(), f.train, f.valid, spec, 0) for f in folds]
        reports = fit_folds_together(tasks, data, y, signal.n_outputs, exact=mode == "exact")
    _sync(device)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds,
            "valid_loss": [r.history[-1]["valid_loss"] for r in reports],
            "train_loss": [r.history[-1]["train_loss"] for r in reports]}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--folds", type=int, default=0)
    parser.add_argument("--modes", default="sequential,fast")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--model", default="eegnet")
    parser.add_argument("--windows", help="a subset written by benchmarks/windows_subset.py")
    parser.add_argument("--repeats", type=int, default=1,
                        help="alternate the modes this many times; the fastest run is kept")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in modes if m not in MODES]
    if bad:
        parser.error(f"Invalid value for the '--modes' parameter. Allowed values are "
                     f"{list(MODES)}, but got {bad}.")
    torch.set_num_threads(args.threads)
    load_builtin_models()
    X, y, subjects, info, source = windows_subset.load(args.windows, args.per_class or None)
    signal = SignalSpec(n_chans=X.shape[1], n_times=X.shape[2], sfreq=float(info["sfreq"]),
                        n_outputs=len(info["classes"]), ch_names=tuple(info["ch_names"]))
    folds = make_folds(subjects, args.folds)
    spec = TrainerSpec(max_epochs=args.epochs, batch_size=args.batch_size, patience=None,
                       device=args.device)
    n_train = sum(len(f.train) for f in folds) * args.epochs
    print(f"{args.model} on eegmat ({source}): {len(folds)} LOSO folds, {len(X)} windows, "
          f"{n_train // max(args.epochs, 1)} training windows per epoch over all folds, "
          f"{args.epochs} epoch(s), batch {args.batch_size}, device {args.device}, "
          f"{args.threads} thread(s); load average before: {os.getloadavg()}")
    results: dict[str, dict] = {}
    for _ in range(args.repeats):  # alternated, so that a change of load hits every mode
        for mode in modes:
            run = run_mode(mode, X, y, folds, signal, spec, args.model)
            print(f"  {mode:<10} {run['seconds']:8.1f} s "
                  f"{n_train / run['seconds']:9.1f} training windows/s", flush=True)
            if mode not in results or run["seconds"] < results[mode]["seconds"]:
                results[mode] = run
    base = results.get("sequential")
    print(f"{'mode':<10} {'seconds':>8} {'windows/s':>10} {'speed-up':>9} "
          f"{'max |d valid loss|':>19}")
    for mode, r in results.items():
        ratio = base["seconds"] / r["seconds"] if base else float("nan")
        delta = (max(abs(a - b) for a, b in zip(r["valid_loss"], base["valid_loss"],
                                                strict=True)) if base else float("nan"))
        print(f"{mode:<10} {r['seconds']:8.1f} {n_train / r['seconds']:10.1f} {ratio:8.2f}x "
              f"{delta:19.3g}")
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps({
            "model": args.model, "source": source, "n_folds": len(folds),
            "epochs": args.epochs, "batch_size": args.batch_size, "device": args.device,
            "threads": args.threads, "training_windows": n_train, "results": results,
            "loadavg_after": os.getloadavg()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
