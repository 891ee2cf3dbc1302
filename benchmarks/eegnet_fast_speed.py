"""Benchmark: EEGNet training and inference windows/s, braindecode's forward vs the fast path.

On real PhysioNet eegmat windows (19 channels x 640 samples), batch 64, the same network
(braindecode's EEGNet with eegbench's linear head) is timed with braindecode's own forward and
with the exact fused forward of :mod:`eegbench.models.eegnet_fast`: training steps (forward,
cross-entropy, backward, AdamW step) and evaluation passes (no gradient). The two paths
alternate, so load changes on a shared machine hit both; the median of ``--repeats`` rounds is
reported with the ratio, and the largest output difference between the paths is checked.

With ``--processes 2`` the fast path is also timed in 2 processes of 1 thread each running at
once (aggregate windows/s), against 1 process with 2 threads.

Usage (from the repository root)::

    python benchmarks/eegnet_fast_speed.py [--threads 1] [--steps 10] [--repeats 5]
    python benchmarks/eegnet_fast_speed.py --processes 2
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BATCH = 64


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--steps", type=int, default=10, help="training steps per timed round")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per path")
    p.add_argument("--processes", type=int, default=0,
                   help="also time the fast path in N single-thread processes at once")
    p.add_argument("--data-root", default=os.environ.get("EEGBENCH_DATA_ROOT",
                                                         str(REPO.parent / "shared" / "data")))
    p.add_argument("--cache-dir", default=os.environ.get("EEGBENCH_CACHE_DIR",
                                                         str(REPO / ".eegbench_cache")))
    return p.parse_args(argv)


def _setup(args: argparse.Namespace, threads: int):
    """Return real windows, labels and a (stock, fast) pair of identical classifiers."""
    import numpy as np
    import torch

    from eegbench.conformance import real_batch
    from eegbench.models.base import build_model

    torch.set_num_threads(threads)
    X, y, signal = real_batch(args.data_root, args.cache_dir, n_subjects=8, per_subject=16)
    X = np.resize(X, (BATCH * 4, *X.shape[1:]))
    y = np.resize(y, BATCH * 4)
    torch.manual_seed(0)
    fast = build_model("eegnet").build(signal)
    stock = copy.deepcopy(fast)
    stock.encoder.fast_path = False
    assert fast.encoder.fast_path, "the fast path does not apply to this EEGNet"
    return torch.from_numpy(X), torch.from_numpy(np.asarray(y, dtype=np.int64)), stock, fast


def _train_rate(module, X, y, steps: int) -> float:
    import torch

    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    module.train()
    t0 = time.perf_counter()
    for step in range(steps):
        start = (step * BATCH) % (len(X) - BATCH + 1)
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(module(X[start:start + BATCH]),
                                                 y[start:start + BATCH])
        loss.backward()
        optimizer.step()
    return steps * BATCH / (time.perf_counter() - t0)


def _eval_rate(module, X) -> float:
    import torch

    module.eval()
    t0 = time.perf_counter()
    with torch.no_grad():
        module(X)
    return len(X) / (time.perf_counter() - t0)


def _worker(args: argparse.Namespace, queue) -> None:
    X, y, _, fast = _setup(args, 1)
    _train_rate(fast, X, y, 2)  # warm-up
    queue.put(statistics.median(_train_rate(fast, X, y, args.steps)
                                for _ in range(args.repeats)))


def main(argv: list[str] | None = None) -> int:
    """Time both paths; print windows/s, ratios and the output difference."""
    args = _parse(argv)
    sys.path.insert(0, str(REPO))
    import logging

    import torch

    logging.basicConfig(level=logging.WARNING)
    X, y, stock, fast = _setup(args, args.threads)
    with torch.no_grad():
        stock.eval()
        fast.eval()
        diff = float((stock(X[:BATCH]) - fast(X[:BATCH])).abs().max())
        scale = float(stock(X[:BATCH]).abs().max())
    for module in (stock, fast):  # warm-up (first-call costs are not throughput)
        _train_rate(module, X, y, 2)
        _eval_rate(module, X)
    rates: dict[str, list[float]] = {"stock train": [], "fast train": [], "stock eval": [],
                                     "fast eval": []}
    for _ in range(args.repeats):
        for name, module in (("stock", stock), ("fast", fast)):
            rates[f"{name} train"].append(_train_rate(module, X, y, args.steps))
            rates[f"{name} eval"].append(_eval_rate(module, X))
    med = {k: statistics.median(v) for k, v in rates.items()}
    print(f"EEGNet on real eegmat windows {tuple(X.shape[1:])}, batch {BATCH}, "
          f"{args.threads} thread(s), torch {torch.__version__}, load average "
          f"{os.getloadavg()[0]:.1f}; median of {args.repeats} rounds\n")
    print("| path | training (windows/s) | evaluation (windows/s) |")
    print("|---|---|---|")
    for name in ("stock", "fast"):
        print(f"| {name} | {med[f'{name} train']:.0f} | {med[f'{name} eval']:.0f} |")
    print(f"| ratio fast / stock | {med['fast train'] / med['stock train']:.1f}x | "
          f"{med['fast eval'] / med['stock eval']:.1f}x |")
    print(f"\nlargest output difference (eval mode): {diff:.2e} (outputs up to {scale:.2f})")
    if args.processes:
        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        workers = [ctx.Process(target=_worker, args=(args, queue))
                   for _ in range(args.processes)]
        for w in workers:
            w.start()
        total = sum(queue.get() for _ in workers)
        for w in workers:
            w.join()
        print(f"\nfast path training, {args.processes} processes x 1 thread at once: "
              f"{total:.0f} windows/s in all (1 process x {args.threads} thread(s): "
              f"{med['fast train']:.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
