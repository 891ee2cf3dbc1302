"""Training throughput of one network with the device-resident loop, and device utilisation.

Trains ``--model`` (its ``conf/model/<name>.yaml`` architecture and head, random
initialisation, every weight trained with the optimiser, learning rates and clipping of its
recipe, a constant schedule) on real eegmat windows for ``--steps`` optimisation steps after
``--warmup`` steps, with the windows resident on the device (``eegbench.training.resident``), and
prints training windows per second. On CUDA the GPU's utilisation is sampled every 100 ms
during the timed steps (``torch.cuda.utilization``, else ``nvidia-smi``) and its mean and
median printed.

Usage: python benchmarks/training_throughput.py [--model eegnet] [--device cuda]
         [--batch-size 64] [--steps 200] [--warmup 20] [--precision fp32|bf16] [--compile]
         [--windows FILE.npz] [--per-class N] [--threads 1] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import windows_subset  # noqa: E402

from eegbench.models.base import SignalSpec, build_model, load_builtin_models  # noqa: E402
from eegbench.training.loop import compiled, make_losses  # noqa: E402
from eegbench.training.optim import make_optimizer, param_groups  # noqa: E402
from eegbench.training.resident import ResidentWindows, train_epoch  # noqa: E402


class UtilisationSampler(threading.Thread):
    """Sample the GPU's utilisation (percent) every ``interval`` seconds until stopped."""

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.interval, self.samples, self.source = interval, [], None
        self._stop_event = threading.Event()

    def _read(self) -> float | None:
        try:
            self.source = "torch.cuda.utilization"
            return float(torch.cuda.utilization())
        except Exception:  # noqa: BLE001  (no NVML binding: ask nvidia-smi)
            if shutil.which("nvidia-smi") is None:
                return None
            self.source = "nvidia-smi"
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu",
                                  "--format=csv,noheader,nounits"], capture_output=True,
                                 text=True, timeout=5).stdout.split()
            return float(out[0]) if out else None

    def run(self) -> None:  # noqa: D102
        while not self._stop_event.is_set():
            value = self._read()
            if value is not None:
                self.samples.append(value)
            self._stop_event.wait(self.interval)

    def stop(self) -> dict:
        """Stop sampling; return the mean, median and count of the samples."""
        self._stop_event.set()
        self.join(timeout=10)
        if not self.samples:
            return {"source": self.source, "n": 0}
        return {"source": self.source, "n": len(self.samples),
                "mean": statistics.fmean(self.samples),
                "median": statistics.median(self.samples)}


def measure(model_name: str, X: np.ndarray, y: np.ndarray, signal: SignalSpec,
            device: torch.device, batch_size: int, steps: int, warmup: int, precision: str,
            use_compile: bool) -> dict:
    """Return windows/s (and GPU utilisation on CUDA) of ``steps`` timed training steps."""
    torch.manual_seed(0)
    params, recipe = windows_subset.model_config(model_name)
    model = build_model(model_name, **{**params, "adaptation": "from_scratch",
                                       "trainer": recipe})
    spec = model.trainer.merged(batch_size=batch_size, precision=precision,
                                compile=use_compile, schedule="constant", device=str(device))
    module = model.build(signal).to(device)
    loss_fn, _ = make_losses(y, signal.n_outputs, spec, device)
    optimizer = make_optimizer(param_groups(module, spec), spec)
    forward = compiled(module, spec)
    data = ResidentWindows(X, y, device)
    rng = np.random.default_rng(0)
    module.train()

    def run(n_steps: int) -> torch.Tensor:
        order = rng.integers(0, len(data), size=n_steps * batch_size)
        return train_epoch(forward, data, loss_fn, optimizer, batch_size, order,
                           precision=precision, grad_clip=spec.grad_clip)

    run(warmup).item()  # compilation, kernel selection, allocator warm-up
    sampler = UtilisationSampler() if device.type == "cuda" else None
    if sampler:
        sampler.start()
    t0 = time.perf_counter()
    loss = run(steps).item()  # the one host read: waits for the device
    seconds = time.perf_counter() - t0
    utilisation = sampler.stop() if sampler else None
    return {"model": model_name, "device": str(device), "batch_size": batch_size,
            "steps": steps, "precision": precision, "compile": use_compile,
            "n_parameters": int(sum(p.numel() for p in module.parameters())),
            "seconds": seconds, "windows_per_s": steps * batch_size / seconds,
            "last_mean_loss": loss, "gpu_utilisation_percent": utilisation}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="eegnet")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--windows", help="a subset written by benchmarks/windows_subset.py")
    parser.add_argument("--per-class", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_builtin_models()
    X, y, _, info, source = windows_subset.load(args.windows, args.per_class or None)
    signal = SignalSpec(n_chans=X.shape[1], n_times=X.shape[2], sfreq=float(info["sfreq"]),
                        n_outputs=len(info["classes"]), ch_names=tuple(info["ch_names"]))
    result = measure(args.model, X, y, signal, torch.device(args.device), args.batch_size,
                     args.steps, args.warmup, args.precision, args.compile)
    util = result["gpu_utilisation_percent"]
    util_text = (f"; GPU utilisation mean {util['mean']:.0f} %, median {util['median']:.0f} % "
                 f"({util['n']} samples, {util['source']})" if util and util.get("n") else "")
    print(f"{args.model} ({result['n_parameters']} parameters) on {args.device}, {source}: "
          f"batch {args.batch_size}, {args.precision}{', compiled' if args.compile else ''}: "
          f"{result['windows_per_s']:.1f} training windows/s over {args.steps} steps "
          f"({result['seconds']:.2f} s){util_text}; load average {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps({**result, "source": source}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
