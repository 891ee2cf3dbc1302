"""Leave-one-subject-out training of a model on eegmat windows, within a time budget.

The folds of the default protocol (2 validation subjects, seed 0); each fold's model is
built and trained with its full recipe from ``conf/model/<name>.yaml`` (e.g. CBraMod's 50
epochs, EEGNet's defaults), fold after fold or all folds stacked (``--fold-parallel``), and
scored on its test subject. One JSON line per fold is written as soon as the fold is final
(``--out``); with ``--budget-s`` no new fold starts once the budget would be exceeded at the
mean pace so far (stacked folds start together). Without ``--checkpoint`` the model starts
from a random initialisation (``from_scratch``); with one it is fine-tuned (``finetune``).

Results on a windows subset (``--windows``, from ``windows_subset.py``) are not comparable
with rows computed on all windows; each line names its data.

Usage: python benchmarks/subset_loso.py --model cbramod [--windows FILE.npz] [--per-class N]
         [--fold-parallel false|true|exact] [--epochs N] [--budget-s S] [--device cuda]
         [--precision fp32|bf16] [--checkpoint FILE] [--folds K] [--out OUT.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import windows_subset  # noqa: E402
from fold_parallel_speed import make_folds  # noqa: E402

from eegbench.metrics import compute_metrics  # noqa: E402
from eegbench.models.base import SignalSpec, build_model, load_builtin_models  # noqa: E402
from eegbench.models.fold_parallel import train_models_together  # noqa: E402
from eegbench.training.fold_parallel.stack import NotStackable  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="eegnet")
    parser.add_argument("--windows")
    parser.add_argument("--per-class", type=int, default=0)
    parser.add_argument("--fold-parallel", default="false", choices=["false", "true", "exact"])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--budget-s", type=float)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--checkpoint")
    parser.add_argument("--folds", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_builtin_models()
    X, y, subjects, info, source = windows_subset.load(args.windows, args.per_class or None)
    signal = SignalSpec(n_chans=X.shape[1], n_times=X.shape[2], sfreq=float(info["sfreq"]),
                        n_outputs=len(info["classes"]), ch_names=tuple(info["ch_names"]))
    folds = make_folds(subjects, args.folds)
    params, recipe = windows_subset.model_config(args.model)
    recipe = {**recipe, "device": args.device, "precision": args.precision}
    if args.epochs:
        recipe["max_epochs"] = args.epochs
    adaptation = "finetune" if args.checkpoint else "from_scratch"
    extra = {"checkpoint": args.checkpoint} if args.checkpoint else {}

    def build():
        return build_model(args.model, **{**params, **extra, "adaptation": adaptation,
                                          "trainer": recipe})

    spec = build().trainer
    out = args.out.open("w") if args.out else None
    done: list[dict] = []
    t0 = time.perf_counter()
    print(f"{args.model} ({adaptation}, {spec.max_epochs} epochs, batch {spec.batch_size}, "
          f"{args.precision}, fold_parallel={args.fold_parallel}) on eegmat ({source}): "
          f"{len(folds)} LOSO folds on {args.device}", flush=True)

    def record(k: int, model, report: dict) -> None:
        fold = folds[k]
        proba = model.predict_proba(X[fold.test])
        metrics = compute_metrics(y[fold.test], proba)
        line = {"model": args.model, "adaptation": adaptation, "data": source,
                "fold": fold.name, "test_subject": ",".join(fold.test_subjects),
                "balanced_accuracy": metrics["balanced_accuracy"],
                "best_epoch": report.get("best_epoch"), "epochs_run": report.get("epochs_run"),
                "fold_parallel": report.get("fold_parallel"), "device": args.device,
                "elapsed_s": round(time.perf_counter() - t0, 2)}
        done.append(line)
        if out:
            out.write(json.dumps(line) + "\n")
            out.flush()
        print(f"  fold {fold.name}: balanced accuracy {line['balanced_accuracy']:.3f} "
              f"(best epoch {line['best_epoch']}, {line['elapsed_s']:.0f} s)", flush=True)

    stacked = args.fold_parallel != "false"
    if stacked:
        try:
            train_models_together([build() for _ in folds], X, y,
                                  [(f.train, f.valid) for f in folds], signal, [0] * len(folds),
                                  args.fold_parallel == "exact",
                                  lambda k, model, report, _: record(k, model, report))
        except NotStackable as err:
            print(f"  not stackable ({err}): fold after fold", flush=True)
            stacked = False
    if not stacked:
        for k, fold in enumerate(folds):
            elapsed = time.perf_counter() - t0
            if args.budget_s and done and elapsed / len(done) * (len(done) + 1) > args.budget_s:
                print(f"  budget of {args.budget_s:.0f} s reached after {len(done)} folds",
                      flush=True)
                break
            model = build()
            report = model.fit(X[fold.train], y[fold.train], X[fold.valid], y[fold.valid],
                               signal, 0)
            record(k, model, report)
    seconds = time.perf_counter() - t0
    scores = np.array([d["balanced_accuracy"] for d in done])
    n_windows = sum(len(folds[i].train) for i in range(len(done)))
    summary = {"model": args.model, "adaptation": adaptation, "data": source,
               "folds_done": len(done), "folds": len(folds), "seconds": round(seconds, 2),
               "balanced_accuracy_mean": float(scores.mean()) if len(scores) else None,
               "balanced_accuracy_sd": float(scores.std(ddof=1)) if len(scores) > 1 else None,
               "fold_parallel": args.fold_parallel, "device": args.device,
               "precision": args.precision, "max_epochs": spec.max_epochs,
               "loadavg": os.getloadavg()}
    if out:
        out.write(json.dumps({"summary": summary}) + "\n")
        out.close()
    mean = summary["balanced_accuracy_mean"]
    print(f"{args.model}: {len(done)}/{len(folds)} folds in {seconds:.1f} s "
          f"({n_windows} training windows per epoch summed over the folds done); balanced "
          f"accuracy {mean if mean is None else round(mean, 3)} +- "
          f"{summary['balanced_accuracy_sd']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
