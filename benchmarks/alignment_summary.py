"""Alignment x model family on eegmat: each aligned configuration against the same model unaligned.

Reads the committed rows (``leaderboard/rows.jsonl``), keeps eegmat leave-one-subject-out rows
of seed 0, and for every model configuration that sets ``protocol.align`` finds the same model
configuration without alignment (same adaptation, model and preprocessing sections, and
trainer section where a network is trained). Per subject the
balanced accuracy (duplicate rows of a subject, e.g. from two code versions, are averaged);
the test is scipy's paired two-sided Wilcoxon signed-rank test over the subjects both
configurations scored, with the differences rounded to 1e-9 first so that exact ties count as
ties (``zero_method="wilcox"``: zero differences dropped), Holm-corrected over every aligned
configuration of the table (:func:`eegbench.leaderboard.stats.holm`). Prints a markdown table.

Usage: python benchmarks/alignment_summary.py [--rows leaderboard/rows.jsonl]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import wilcoxon

from eegbench.leaderboard.stats import holm

DATASET, PROTOCOL = "physionet_eegmat", "loso"


def _alignment(row: dict) -> tuple[str, str]:
    protocol = row["config"].get("protocol") or {}
    return str(protocol.get("align") or "none"), str(protocol.get("align_reference", "all"))


#: Trainer keys that do not change what is computed (execution settings).
EXECUTION_TRAINER_KEYS = ("num_threads", "device")


def _family_key(row: dict) -> str:
    """Model, adaptation, model and preprocessing sections, and the trainer where one trains.

    Classical pipelines and linear probes fit scikit-learn estimators: the trainer section is
    not read, so rows that differ only there are the same configuration.
    """
    config = row["config"]
    trains = row["family"] != "classical" and row["adaptation"] != "linear_probe"
    trainer = ({k: v for k, v in (config.get("trainer") or {}).items()
                if k not in EXECUTION_TRAINER_KEYS} if trains else None)
    return json.dumps([row["model"], row["adaptation"], config.get("model"), trainer,
                       config.get("preprocess")], sort_keys=True)


def per_subject_scores(rows: list[dict]) -> dict[tuple[str, tuple[str, str]], dict[str, float]]:
    """Return {(family key, (align, reference)): {subject: mean balanced accuracy}}."""
    scores: dict = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if (row["dataset"], row["protocol"], row["seed"]) != (DATASET, PROTOCOL, 0) or (
                "balanced_accuracy" not in row["metrics"]):  # regression tasks of eegmat
            continue
        scores[(_family_key(row), _alignment(row))][row["test_subject"]].append(
            float(row["metrics"]["balanced_accuracy"]))
    return {key: {s: float(np.mean(v)) for s, v in subjects.items()}
            for key, subjects in scores.items()}


def summary(rows: list[dict]) -> list[dict]:
    """Return one record per aligned configuration that has an unaligned counterpart."""
    scores = per_subject_scores(rows)
    names = {_family_key(r): (r["model"], r["adaptation"],
                              (r["config"].get("model") or {}).get("params", {}).get("init"))
             for r in rows}
    out = []
    for (family, alignment), aligned in sorted(scores.items()):
        plain = scores.get((family, ("none", "all")))
        if alignment[0] == "none" or plain is None:
            continue
        common = sorted(set(aligned) & set(plain))
        diff = np.round(np.array([aligned[s] - plain[s] for s in common]), 9)
        p = (float(wilcoxon(diff, zero_method="wilcox").pvalue)
             if np.any(diff != 0) else 1.0)
        model, adaptation, init = names[family]
        out.append({"model": model, "adaptation": adaptation, "init": init,
                    "align": alignment[0], "reference": alignment[1], "n": len(common),
                    "none": float(np.mean([plain[s] for s in common])),
                    "aligned": float(np.mean([aligned[s] for s in common])),
                    "better": int((diff > 0).sum()), "worse": int((diff < 0).sum()), "p": p})
    return out


def main() -> int:
    """Print the summary table of the rows file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, default=Path("leaderboard/rows.jsonl"))
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.rows.read_text().splitlines() if line.strip()]
    records = summary(rows)
    adjusted = holm([r["p"] for r in records])
    print("| model | adaptation | align | reference | subjects | none | aligned | "
          f"difference | better / worse | Wilcoxon p | Holm p ({len(records)} tests) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r, p_holm in zip(records, adjusted, strict=True):
        label = r["model"] + (" (random init)" if r["init"] == "random" else "")
        print(f"| {label} | {r['adaptation']} | {r['align']} | {r['reference']} | {r['n']} | "
              f"{r['none']:.3f} | {r['aligned']:.3f} | {r['aligned'] - r['none']:+.3f} | "
              f"{r['better']} / {r['worse']} | {r['p']:.3g} | {p_holm:.3g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
