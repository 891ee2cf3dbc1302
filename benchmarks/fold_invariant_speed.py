"""Benchmark: leave-one-subject-out with fold-invariant features computed once vs per fold.

Runs run.py's own fold code (:func:`eegbench.evaluation.fold.fit_and_score`) on the same LOSO folds
in
three passes: from the windows (every fold recomputes, e.g., the filter-bank covariances of its
training windows, and each Riemannian mean starts cold: the original path), from the features
precomputed once for the whole dataset (:mod:`eegbench.features.precompute`, into a fresh
temporary cache, so the one-off computation is timed too) with cold means, and from the
features with each fold's Riemannian means warm-started from the previous fold's
(``model.params.warm_start=true``, :mod:`eegbench.models.riemann`). Checks that every
fold's metrics are identical on the three paths, then prints the per-fold times, the
ratios, and the whole-LOSO time of each path (measured when ``--folds`` covers all folds,
otherwise projected from the timed folds and labelled so).

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

    from eegbench.cli.spec import job_from_config
    from eegbench.evaluation.fold import fit_and_score
    from eegbench.evaluation.plan import load_dataset, model_builder, protocol_plan
    from eegbench.features.precompute import precompute_fold_invariant
    from eegbench.models.base import SignalSpec
    from eegbench.models.riemann import clear_warm_starts
    from eegbench.protocols.splitters import make_splitter
    from eegbench.resources import config_dir

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    overrides = [f"model={args.model}", f"dataset={args.dataset}", "protocol=loso",
                 f"paths.data_root={args.data_root}", f"paths.cache_dir={args.cache_dir}"]
    if args.subjects:
        overrides.append(f"dataset.subjects=[{args.subjects}]")
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = job_from_config(compose("config", overrides=overrides))
        warm_cfg = job_from_config(compose("config", overrides=[
            *overrides, "+model.params.warm_start=true"]))
    ds = load_dataset(cfg)
    seed = int(cfg.spec.seeds[0])
    plan = protocol_plan(cfg, ds)
    folds = list(make_splitter(plan.name, seed=seed, **plan.splitter_params).split(ds.meta))
    timed = folds if args.folds <= 0 else folds[:args.folds]
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])

    paths = ("windows", "features", "warm")
    with tempfile.TemporaryDirectory(prefix="eegbench_features_") as tmp:
        t0 = time.perf_counter()
        features = precompute_fold_invariant(model_builder(cfg)(), ds.X, signal, tmp)
        precompute_s = time.perf_counter() - t0
        if features is None:
            print(f"{args.model} declares no fold-invariant steps: nothing to compare.")
            return 0
        seconds = {p: [] for p in paths}
        metrics = {p: [] for p in paths}
        for path in paths:  # one pass per path (a pass's warm starts come from its own folds)
            clear_warm_starts()
            for fold in timed:
                t0 = time.perf_counter()
                row, _ = fit_and_score(warm_cfg if path == "warm" else cfg, ds, fold, seed,
                                       "benchmark",
                                       features=None if path == "windows" else features)
                seconds[path].append(time.perf_counter() - t0)
                metrics[path].append(row.metrics)
    lines, mismatches = [], 0
    for i, fold in enumerate(timed):
        same = metrics["windows"][i] == metrics["features"][i] == metrics["warm"][i]
        mismatches += not same
        s_win, s_feat, s_warm = (seconds[p][i] for p in paths)
        lines.append(f"| {fold.name} | {s_win:.2f} | {s_feat:.2f} | {s_warm:.2f} | "
                     f"{s_win / s_warm:.1f}x | {metrics['warm'][i]['balanced_accuracy']:.4f} | "
                     f"{'yes' if same else 'NO'} |")
    n, k = len(folds), len(timed)
    print(f"{args.model} on {args.dataset}: {len(ds.X)} windows of shape {ds.X.shape[1:]}, "
          f"{n} LOSO folds, {k} timed on each path ({args.threads} thread(s), load average "
          f"{os.getloadavg()[0]:.1f}); features {features.shape} computed once in "
          f"{precompute_s:.1f} s\n")
    print("| fold | from windows (s) | from features (s) | features + warm-started means (s) "
          "| ratio windows / warm | balanced acc. | identical |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    label = "measured" if k == n else f"projected from {k} of {n} folds"
    loso = {p: sum(seconds[p]) / k * n + (precompute_s if p != "windows" else 0.0)
            for p in paths}
    print(f"\nwhole LOSO ({label}): from windows {loso['windows']:.0f} s; features computed "
          f"once (incl. {precompute_s:.1f} s precompute) {loso['features']:.0f} s "
          f"({loso['windows'] / loso['features']:.1f}x); with warm-started means "
          f"{loso['warm']:.0f} s ({loso['windows'] / loso['warm']:.1f}x over the windows path, "
          f"{loso['features'] / loso['warm']:.2f}x over cold means)")
    if mismatches:
        print(f"ERROR: {mismatches} fold(s) with different metrics on the three paths.")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
