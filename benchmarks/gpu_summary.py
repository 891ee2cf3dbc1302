"""Print the short table of a ``gpu_report.sh`` run and merge its figures into results.json.

Reads ``REPORT/steps.tsv`` (each step's status and seconds), ``REPORT/results/*.json`` (the
benchmarks' figures), ``REPORT/*_loso.jsonl`` (per-fold scores) and the pytest summary line
of ``REPORT/logs/cuda_tests.log``; figures of a step that did not finish are shown as "-".

Usage: python benchmarks/gpu_summary.py REPORT_DIR
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _loso(path: Path) -> dict | None:
    if not path.is_file():
        return None
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    summary = next((line["summary"] for line in lines if "summary" in line), None)
    folds = [line for line in lines if "summary" not in line]
    return {"summary": summary, "folds": folds}


def _fmt(value, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def collect(report: Path) -> dict:
    """Return every figure of the run as one dict."""
    steps = {}
    if (report / "steps.tsv").is_file():
        for line in (report / "steps.tsv").read_text().splitlines():
            name, status, seconds = line.split("\t")
            steps[name] = {"status": status, "seconds": int(seconds)}
    results = {p.stem: _json(p) for p in sorted((report / "results").glob("*.json"))}
    tests = None
    log = report / "logs" / "cuda_tests.log"
    if log.is_file():
        found = re.findall(r"^=*\s*(.*\b(?:passed|failed|skipped|error)\b.*?)\s*=*$",
                           log.read_text(), flags=re.M)
        tests = found[-1] if found else None
    return {"steps": steps, "results": results, "cuda_tests": tests,
            "eegnet_loso": _loso(report / "eegnet_loso.jsonl"),
            "cbramod_loso": _loso(report / "cbramod_loso.jsonl")}


def table(data: dict) -> list[str]:
    """Return the table's lines."""
    res, steps = data["results"], data["steps"]
    out = [f"{'measurement':<44} {'value':>32}  status"]

    def row(name: str, value: str, step: str) -> None:
        out.append(f"{name:<44} {value:>32}  {steps.get(step, {}).get('status', '-')}")

    row("CUDA tests", data["cuda_tests"] or "-", "cuda_tests")
    for dtype in ("float32", "float64"):
        r = res.get(f"preprocess_{dtype}") or {}
        row(f"fused preprocessing vs MNE, {dtype} ({r.get('device', '-')})",
            f"{_fmt(r.get('ratio'))}x, max err {_fmt(r.get('max_err_rel_rms'), '.1e')}",
            f"preprocess_{dtype}")
    for model in ("eegnet", "cbramod"):
        for precision in ("fp32", "bf16"):
            r = res.get(f"throughput_{model}_{precision}") or {}
            util = (r.get("gpu_utilisation_percent") or {}).get("mean")
            row(f"{model} training, batch {r.get('batch_size', '-')}, {precision}",
                f"{_fmt(r.get('windows_per_s'), '.0f')} win/s, GPU {_fmt(util, '.0f')} %",
                f"throughput_{model}_{precision}")
    r = res.get("fold_parallel_speed") or {}
    seq = (r.get("results") or {}).get("sequential", {}).get("seconds")
    fast = (r.get("results") or {}).get("fast", {}).get("seconds")
    row(f"EEGNet {r.get('n_folds', '-')} folds x {r.get('epochs', '-')} ep: seq / stacked",
        f"{_fmt(seq)} s / {_fmt(fast)} s = {_fmt(seq / fast if seq and fast else None)}x",
        "fold_parallel_speed")
    for key, label in (("eegnet_loso", "EEGNet LOSO, recipe, fold-parallel"),
                       ("cbramod_loso", "CBraMod LOSO, 50 epochs")):
        s = (data.get(key) or {}).get("summary") or {}
        row(label, f"{s.get('folds_done', '-')}/{s.get('folds', '-')} folds "
            f"{_fmt(s.get('seconds'), '.0f')} s, BA {_fmt(s.get('balanced_accuracy_mean'), '.3f')}",
            key)
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the table and write REPORT/results.json."""
    report = Path((argv or sys.argv[1:])[0])
    data = collect(report)
    (report / "results.json").write_text(json.dumps(data, indent=1))
    print("\n".join(table(data)))
    print("(training figures on the eegmat windows subset: scores not comparable with "
          "full-data rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
