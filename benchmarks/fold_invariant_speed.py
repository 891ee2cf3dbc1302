"""Benchmark: leave-one-subject-out with fold-invariant features computed once vs per fold.

Runs run.py's own fold code (:func:`eegbench.run.fit_and_score`) on the same LOSO folds twice:
from the windows (every fold recomputes, e.g., the filter-bank covariances of its training
windows) and from the features precomputed once for the whole dataset
(:mod:`eegbench.features.precompute`, into a fresh temporary cache, so the one-off computation
is timed too). Checks that every fold's metrics are identical, then prints the per-fold
times, the ratio, and the whole-LOSO time of both paths (measured when ``--folds`` covers all
folds, otherwise projected from the timed folds and labelled so).

Usage (from the repository root)::

    EEGBENCH_DATA_ROOT=/work/shared/data python benchmarks/fold_invariant_speed.py --folds 3
    python benchmarks/fold_invariant_speed.py --model ts_lr --folds 0   # all folds
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="fb_ts_lr")
    p.add_argument("--dataset", default="physionet_eegmat")
    p.add_argument("--folds", type=int, default=3,
                   help="LOSO folds timed on each path (0 = all)")
    p.add_argument("--subjects", default=None,
                   help="comma-separated subject ids (default: all in the recipe)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (BLAS/OpenMP)")
    p.add_argument("--data-root", default=os.environ.get("EEGBENCH_DATA_ROOT",
                                                         str(REPO.parent / "shared" / "data")))
    p.add_argument("--cache-dir", default=os.environ.get("EEGBENCH_CACHE_DIR",
                                                         str(REPO / ".eegbench_cache")),
                   help="cache of the windows (the features go to a fresh temporary cache)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Time both paths, check identical metrics, print the table; return 1 on a mismatch."""
    args = _parse(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(REPO))
    import logging

    from hydra import compose, initialize_config_dir

    from eegbench.features.precompute import precompute_fold_invariant
    from eegbench.models.base import SignalSpec
    from eegbench.protocols.splitters import make_splitter
    from eegbench.resources import config_dir
    from eegbench.run import fit_and_score, load_dataset, model_builder

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    overrides = [f"model={args.model}", f"dataset={args.dataset}", "protocol=loso",
                 f"paths.data_root={args.data_root}", f"paths.cache_dir={args.cache_dir}"]
    if args.subjects:
        overrides.append(f"dataset.subjects=[{args.subjects}]")
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    ds = load_dataset(cfg)
    seed = int(cfg.seeds[0])
    protocol = {k: v for k, v in cfg.protocol.items() if k != "name"}
    folds = list(make_splitter("loso", seed=seed, **protocol).split(ds.meta))
    timed = folds if args.folds <= 0 else folds[:args.folds]
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])

    with tempfile.TemporaryDirectory(prefix="eegbench_features_") as tmp:
        t0 = time.perf_counter()
        features = precompute_fold_invariant(model_builder(cfg)(), ds.X, signal, tmp)
        precompute_s = time.perf_counter() - t0
        if features is None:
            print(f"{args.model} declares no fold-invariant steps: nothing to compare.")
            return 0
        lines, mismatches = [], 0
        total = {"windows": 0.0, "features": 0.0}
        for fold in timed:
            seconds, metrics = {}, {}
            for path, feats in (("windows", None), ("features", features)):
                t0 = time.perf_counter()
                row, _ = fit_and_score(cfg, ds, fold, seed, "benchmark", features=feats)
                seconds[path] = time.perf_counter() - t0
                metrics[path] = row.metrics
                total[path] += seconds[path]
            same = metrics["windows"] == metrics["features"]
            mismatches += not same
            lines.append(f"| {fold.name} | {seconds['windows']:.2f} | {seconds['features']:.2f}"
                         f" | {seconds['windows'] / seconds['features']:.1f}x | "
                         f"{metrics['features']['balanced_accuracy']:.4f} | "
                         f"{'yes' if same else 'NO'} |")
    n, k = len(folds), len(timed)
    print(f"{args.model} on {args.dataset}: {len(ds.X)} windows of shape {ds.X.shape[1:]}, "
          f"{n} LOSO folds, {k} timed on each path ({args.threads} thread(s)); "
          f"features {features.shape} computed once in {precompute_s:.1f} s\n")
    print("| fold | from windows (s) | from features (s) | ratio | balanced acc. | identical |")
    print("|---|---|---|---|---|---|")
    print("\n".join(lines))
    label = "measured" if k == n else f"projected from {k} of {n} folds"
    loso_windows = total["windows"] / k * n
    loso_features = precompute_s + total["features"] / k * n
    print(f"\nwhole LOSO ({label}): from windows {loso_windows:.0f} s, with features computed "
          f"once {loso_features:.0f} s (incl. {precompute_s:.1f} s precompute): "
          f"{loso_windows / loso_features:.1f}x")
    if mismatches:
        print(f"ERROR: {mismatches} fold(s) with different metrics on the two paths.")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
