"""Peak memory of building the window cache vs the size of the dataset on disk.

Builds the cache of the largest dataset (by source bytes) from scratch for growing subject
subsets, each in a fresh process with a fresh cache folder, and reports the process's peak
RSS (``ru_maxrss``) before and after the build. If the cache streams recordings one at a time,
the build's extra memory stays flat while the dataset grows.

``--preprocess gpu_fused`` builds with the fused backend (cross-file batches bounded by
``--batch-max-files`` / ``--batch-max-samples``); ``--all-only`` builds only the full
dataset, ``--repeats N`` repeats each build (fresh process and cache each time). Time spent
reading files (``read_source``) is reported separately, so build minus read is the
preprocessing, windowing and writing time.

Usage::

    EEGBENCH_DATA_ROOT=/work/shared/data python benchmarks/cache_memory.py [--recipe NAME] \
        [--preprocess mne|gpu_fused] [--batch-max-files N] [--batch-max-samples N] \
        [--all-only] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _child(recipe_name: str, data_root: str, subjects: list[str], cache: str,
           spec_json: str) -> None:
    """Build one cache entry and print a JSON line with the measurements."""
    import numpy as np
    import torch

    from eegbench.data import batched
    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    spec = PreprocessSpec(**json.loads(spec_json))
    read_s = [0.0]
    read_source = batched.read_source

    def timed_read(source, recipe):
        t = time.perf_counter()
        try:
            return read_source(source, recipe)
        finally:
            read_s[0] += time.perf_counter() - t

    batched.read_source = timed_read
    recipe = load_recipe(recipe_name)
    sources = [s for s in recipe.discover(Path(data_root)) if s.subject in set(subjects)]
    disk = sum(s.path.stat().st_size + sum(c.path.stat().st_size for c in s.companions)
               for s in sources)
    before = _peak_mb()
    t0 = time.perf_counter()
    ds = load_windows(recipe, data_root, spec, cache, subjects=subjects)
    build_s = time.perf_counter() - t0
    after_build = _peak_mb()
    t0 = time.perf_counter()
    ds = load_windows(recipe, data_root, spec, cache, subjects=subjects)
    total = float(np.asarray(ds.X[: min(len(ds.X), 64)]).sum())  # touch a few windows
    reload_s = time.perf_counter() - t0
    sys.stdout.write(json.dumps({
        "subjects": len(subjects), "files": len(sources), "disk_mb": disk / 2**20,
        "cache_mb": Path(ds.info["cache_entry"], "X.npy").stat().st_size / 2**20,
        "windows": len(ds.X), "rss_before_mb": before, "rss_peak_mb": after_build,
        "build_s": build_s, "read_s": read_s[0], "reload_s": reload_s, "check": total,
    }) + "\n")


def _largest_recipe(data_root: Path) -> str:
    from eegbench.data.recipe import load_recipe
    from eegbench.resources import recipes_dir

    sizes = {}
    for path in recipes_dir().glob("*.yaml"):
        recipe = load_recipe(path)
        try:
            sizes[recipe.name] = sum(s.path.stat().st_size for s in recipe.discover(data_root))
        except FileNotFoundError:
            continue
    return max(sizes, key=sizes.get)


def main() -> None:
    """Run the benchmark and write a Markdown table to stdout."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default=None, help="recipe name (default: largest dataset)")
    parser.add_argument("--data-root", default=os.environ.get("EEGBENCH_DATA_ROOT",
                                                              "../shared/data"))
    parser.add_argument("--preprocess", default="mne", choices=["mne", "gpu_fused"])
    parser.add_argument("--device", default="cpu", help="gpu_fused device (default: cpu)")
    parser.add_argument("--batch-max-files", type=int, default=None)
    parser.add_argument("--batch-max-samples", type=int, default=None)
    parser.add_argument("--all-only", action="store_true", help="build only the full dataset")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, subjects, cache, spec_json = args.child
        _child(name, args.data_root, subjects.split(","), cache, spec_json)
        return
    spec = {"backend": args.preprocess}
    if args.preprocess == "gpu_fused":
        spec["device"] = args.device
        for key in ("batch_max_files", "batch_max_samples"):
            if getattr(args, key) is not None:
                spec[key] = getattr(args, key)
    from eegbench.data.recipe import load_recipe

    data_root = Path(args.data_root)
    name = args.recipe or _largest_recipe(data_root)
    subjects = sorted({s.subject for s in load_recipe(name).discover(data_root)})
    steps = sorted({max(1, len(subjects) // 4), max(1, len(subjects) // 2), len(subjects)})
    if args.all_only:
        steps = [len(subjects)]
    rows = []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for n in steps:
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as cache:
                out = subprocess.run(
                    [sys.executable, __file__, "--data-root", str(data_root), "--child", name,
                     ",".join(subjects[:n]), cache, json.dumps(spec)],
                    check=True, capture_output=True, text=True, env=env,
                )
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    sys.stdout.write(f"\nCache build peak RSS, dataset '{name}', preprocess {spec} (fresh "
                     "process and cache per row)\n\n| subjects | files | on disk (MiB) | "
                     "cache X.npy (MiB) | windows | RSS after imports (MiB) | peak RSS (MiB) | "
                     "build (s) | of which reading (s) | build without reading (s) | "
                     "reload (s) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        sys.stdout.write(
            f"| {r['subjects']} | {r['files']} | {r['disk_mb']:.1f} | {r['cache_mb']:.1f} | "
            f"{r['windows']} | {r['rss_before_mb']:.0f} | {r['rss_peak_mb']:.0f} | "
            f"{r['build_s']:.1f} | {r['read_s']:.1f} | {r['build_s'] - r['read_s']:.1f} | "
            f"{r['reload_s']:.2f} |\n")


if __name__ == "__main__":
    main()
