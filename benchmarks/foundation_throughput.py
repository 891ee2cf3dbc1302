"""Parameters, throughput and peak memory of every foundation model on real eegmat windows.

For each foundation model at its published size (braindecode's defaults), on batches of real
PhysioNet eegmat windows (19 channels, 5 s at 128 Hz, mapped by each model's input adapter to
its contract), this prints

- parameters (adapter + encoder + linear head),
- forward throughput (windows/s, eval mode, no gradient),
- forward + backward throughput (windows/s, train mode, all weights trainable),
- peak resident memory of the process that ran the model (each model runs in its own
  subprocess, so the peak is that model's, torch and data included).

Usage::

    python benchmarks/foundation_throughput.py [--models cbramod,reve] [--batch 16]
        [--repeats 3] [--device cpu] [--markdown]

Timings are the median of ``--repeats`` timed passes after one warm-up pass. This is a
script, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

FOUNDATION = ("cbramod", "labram", "biot", "eegpt", "brain_tokenizer", "reve", "luna",
              "signal_jepa", "bendr", "codebrain", "eegdino")


def measure(name: str, batch: int, repeats: int, device: str) -> dict:
    """Measure one model (called in a fresh subprocess)."""
    import numpy as np
    import torch

    from eegbench.conformance import real_batch
    from eegbench.models import build_model

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    X, y, signal = real_batch(n_subjects=max(1, batch // 8), per_subject=8)
    X = np.resize(X, (batch, *X.shape[1:]))  # real windows, repeated to the batch size
    y = np.resize(y, batch)
    torch.manual_seed(0)
    model = build_model(name, adaptation="from_scratch")
    module = model.build(signal).to(device)
    n_params = sum(p.numel() for p in module.parameters())
    xb = torch.from_numpy(X).to(device)
    yb = torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device)

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def forward():
        with torch.no_grad():
            module(xb)

    opt = torch.optim.SGD(module.parameters(), lr=1e-6)

    def train_step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(module(xb), yb).backward()
        opt.step()

    out = {"model": name, "parameters": int(n_params), "batch": batch, "device": device}
    for label, fn, mode in (("forward", forward, False), ("forward_backward", train_step,
                                                          True)):
        module.train(mode)
        fn()  # warm-up
        sync()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - t0)
        out[f"{label}_windows_per_s"] = batch / statistics.median(times)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if device.startswith("cuda"):
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main(argv: list[str] | None = None) -> int:
    """Run every model in its own subprocess and print the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(FOUNDATION))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.one:
        print(json.dumps(measure(args.one, args.batch, args.repeats, args.device)))
        return 0
    rows = []
    for name in args.models.split(","):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--one", name, "--batch",
               str(args.batch), "--repeats", str(args.repeats), "--device", args.device]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            err = (proc.stderr.strip().splitlines() or ["?"])[-1]
            rows.append({"model": name, "error": err[:200]})
        else:
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        sys.stderr.write(f"{name}: done\n")
    import torch

    print(f"device: {args.device}; torch {torch.__version__}; {platform.processor() or '?'}; "
          f"threads {os.environ.get('OMP_NUM_THREADS', '?')}; load average "
          f"{os.getloadavg()[0]:.1f}; batch {args.batch} real eegmat windows; median of "
          f"{args.repeats}")
    print("| model | parameters | forward (windows/s) | forward+backward (windows/s) | "
          "peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['model']} | failed: {r['error']} | | | |")
            continue
        print(f"| {r['model']} | {r['parameters'] / 1e6:.2f} M | "
              f"{r['forward_windows_per_s']:.1f} | {r['forward_backward_windows_per_s']:.1f} | "
              f"{r['peak_rss_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
