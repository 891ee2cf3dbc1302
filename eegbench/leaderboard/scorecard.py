"""The scorecard of a suite: per cell each model's score, tests, and an across-cell summary.

For every cell of a suite (:mod:`eegbench.leaderboard.suite_spec`), the stored result rows
that match the cell's identity (:func:`~eegbench.leaderboard.suite_spec.row_matches`) are
grouped into *configurations* (model, adaptation, and for foundation models the weights:
"random init" or the checkpoint's sha256). The unit of every statistic is the test subject
(scores averaged over seeds and over the folds of a subject first); a cell with a single
subject uses its folds as units, and says so.

Per cell and configuration: the mean ± 95 % percentile-bootstrap interval over units, a
one-sided sign-flip permutation test of the units' scores against chance, and the paired
difference to the cell's best baseline (the baseline with the best mean on that cell) with a
two-sided Wilcoxon signed-rank test over the units both have. Across cells: the mean
normalized rank (0 = best of the cell, 1 = last; ties share the mean rank), win / tie / loss
counts against the best baseline and against each baseline (a win or a loss needs p < 0.05)
and a Stouffer combination of the per-cell signed z-scores weighted by sqrt(units)
(as MOABB's meta-analysis; Stouffer 1949, Whitlock 2005).

When a configuration has rows under several configuration hashes in one cell (e.g. two
releases of its defaults), the hash with the most rows is kept (ties: the first in sorted
order): coverage, never a score, decides.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from eegbench.leaderboard.stats import bootstrap_ci, paired_test
from eegbench.leaderboard.suite_spec import (
    HIGHER_IS_BETTER,
    Cell,
    Suite,
    cell_identity,
    row_matches,
)
from eegbench.leaderboard.tables import mark_third_party

#: Level of the win / loss and "above chance" decisions.
ALPHA = 0.05
#: Chance level of metrics whose chance does not depend on the classes.
FIXED_CHANCE = {"roc_auc": 0.5, "cohen_kappa": 0.0, "r2": 0.0, "pearson_r": 0.0}


@dataclass
class Scorecard:
    """What :func:`build_scorecard` computes (tables are pandas frames)."""

    suite: Suite
    #: One row per cell x configuration.
    cells: pd.DataFrame
    #: One row per configuration: coverage, mean normalized rank, record vs best baseline.
    summary: pd.DataFrame
    #: One row per configuration x baseline: win / tie / loss and Stouffer's test.
    versus: pd.DataFrame
    #: Cell id -> why it is empty (cells without any matching row).
    empty: dict[str, str] = field(default_factory=dict)
    headline: str = ""


def configuration_label(row: dict[str, Any]) -> str:
    """Name a row's configuration across cells: model, adaptation, weights.

    A third-party model is marked with its distribution and version (as in the tables).
    """
    label = mark_third_party(str(row.get("model")), row.get("code_fingerprint"))
    adaptation = row.get("adaptation")
    if adaptation and adaptation != "from_scratch":
        label += f" ({adaptation})"
    checkpoint = row.get("checkpoint")
    if checkpoint:
        label += f" [weights {str(checkpoint).removeprefix('sha256:')[:8]}]"
    elif row.get("family") == "foundation":
        label += " [random init]"
    return label


def _n_classes(rows: Sequence[dict[str, Any]]) -> int | None:
    for row in rows:
        pred = row.get("predictions")
        if isinstance(pred, dict) and pred.get("proba"):
            return len(pred["proba"][0])
    return None


def chance_level(cell: Cell, rows: Sequence[dict[str, Any]]) -> float | None:
    """Return the cell's chance score: declared, fixed by the metric, or 1 / n_classes."""
    if cell.chance is not None:
        return cell.chance
    if cell.primary_metric in FIXED_CHANCE:
        return FIXED_CHANCE[cell.primary_metric]
    if cell.primary_metric == "balanced_accuracy":
        n = _n_classes(rows)
        return 1.0 / n if n else None
    return None


def sign_flip_p(values: Sequence[float], chance: float, greater: bool = True) -> float:
    """One-sided sign-flip permutation p of ``values`` above (or below) ``chance``.

    Exact for up to 13 units (every sign pattern), else 9999 random patterns (seed 0).
    """
    x = np.asarray(values, dtype=float) - chance
    x = x[~np.isnan(x)]
    if len(x) < 2:
        return float("nan")
    if np.allclose(x, 0.0):
        return 1.0
    res = stats.permutation_test((x,), np.mean, permutation_type="samples",
                                 alternative="greater" if greater else "less",
                                 n_resamples=9999, random_state=0)
    return float(res.pvalue)


def _unit_scores(rows: list[dict[str, Any]], metric: str, unit: str) -> pd.Series:
    frame = pd.DataFrame({"unit": [str(r["test_subject"] if unit == "subject" else r["fold"])
                                   for r in rows],
                          "value": [float(r["metrics"][metric]) for r in rows]})
    return frame.groupby("unit")["value"].mean()


def _pick_config(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the configuration hash with the most rows (ties: first in sorted order)."""
    by_hash: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_hash.setdefault(str(row.get("config_hash")), []).append(row)
    best = sorted(by_hash, key=lambda h: (-len(by_hash[h]), h))[0]
    return by_hash[best]


def _budget(rows: list[dict[str, Any]]) -> str:
    budget = rows[0].get("budget")
    if not isinstance(budget, dict):
        return ""
    if budget.get("kind") == "sklearn":
        return "sklearn fit"
    parts = [f"{k}={budget[k]}" for k in ("kind", "max_epochs", "epochs_run") if k in budget]
    return ", ".join(parts)


def _signed_z(diff: float, p: float) -> float:
    if math.isnan(p) or math.isnan(diff):
        return float("nan")
    z = stats.norm.isf(max(p, 1e-300) / 2.0)
    return float(math.copysign(z, diff)) if diff != 0 else 0.0


def _outcome(diff: float, p: float) -> str:
    if math.isnan(p) or p >= ALPHA or diff == 0:
        return "tie"
    return "win" if diff > 0 else "loss"


def _compare(a: pd.Series, b: pd.Series, sign: float) -> dict[str, float]:
    shared = a.index.intersection(b.index)
    if len(shared) == 0:
        return {"diff": float("nan"), "p": float("nan"), "n": 0}
    x, y = a[shared].to_numpy(), b[shared].to_numpy()
    _, p = paired_test(x, y, "wilcoxon")
    return {"diff": float(sign * np.mean(x - y)), "p": p, "n": int(len(shared))}


def _cell_table(cell: Cell, rows: list[dict[str, Any]]) -> tuple[pd.DataFrame, dict]:
    """Score every configuration of one cell; return the table and the unit scores."""
    metric = cell.primary_metric
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(configuration_label(row), []).append(row)
    groups = {label: _pick_config(g) for label, g in groups.items()}
    n_subjects = len({str(r["test_subject"]) for g in groups.values() for r in g})
    unit = "subject" if n_subjects >= 2 else "fold"
    scores = {label: _unit_scores(g, metric, unit) for label, g in groups.items()}
    chance = chance_level(cell, rows)
    baselines = {label: g[0]["model"] for label, g in groups.items()
                 if g[0]["model"] in cell.baselines and g[0].get("adaptation") in
                 (None, "from_scratch")}
    best_baseline = (max(baselines, key=lambda lb: (sign * scores[lb].mean(), lb))
                     if baselines else None)
    records = []
    for label, group in groups.items():
        values = scores[label]
        low, high = bootstrap_ci(values.to_numpy())
        record = {"cell": cell.id, "dataset": cell.dataset, "protocol": cell.protocol,
                  "metric": metric, "configuration": label, "model": group[0]["model"],
                  "family": group[0].get("family"), "is_baseline": label in baselines,
                  "unit": unit, "n_units": int(len(values)), "n_rows": len(group),
                  "mean": float(values.mean()), "ci_low": low, "ci_high": high,
                  "chance": chance,
                  "p_chance": (sign_flip_p(values.to_numpy(), chance, sign > 0)
                               if chance is not None else float("nan")),
                  "best_baseline": best_baseline or "", "diff_vs_best_baseline": float("nan"),
                  "p_vs_best_baseline": float("nan"), "budget": _budget(group),
                  "config_hash": str(group[0].get("config_hash"))}
        if best_baseline is not None and label != best_baseline:
            cmp = _compare(values, scores[best_baseline], sign)
            record["diff_vs_best_baseline"], record["p_vs_best_baseline"] = cmp["diff"], cmp["p"]
        records.append(record)
    table = pd.DataFrame(records)
    n = len(table)
    ranks = (sign * table["mean"]).rank(ascending=False, method="average")
    table["normalized_rank"] = (ranks - 1) / (n - 1) if n > 1 else 0.0
    table = table.sort_values(["normalized_rank", "configuration"], kind="stable")
    return table.reset_index(drop=True), {"scores": scores, "baselines": baselines,
                                          "sign": sign}


def _stouffer(zs: Sequence[float], weights: Sequence[float]) -> tuple[float, float]:
    z, w = np.asarray(zs, dtype=float), np.asarray(weights, dtype=float)
    keep = ~np.isnan(z)
    if not keep.any():
        return float("nan"), float("nan")
    combined = float(np.sum(w[keep] * z[keep]) / math.sqrt(np.sum(w[keep] ** 2)))
    return combined, float(2 * stats.norm.sf(abs(combined)))


def build_scorecard(suite: Suite, rows: Sequence[dict[str, Any]]) -> Scorecard:
    """Compute the scorecard of ``suite`` from result rows (store or shipped rows)."""
    tables, unit_info, empty = [], {}, {}
    for cell in suite.cells:
        identity = cell_identity(cell)
        matched = [r for r in rows if row_matches(identity, r)]
        if not matched:
            empty[cell.id] = ("no stored result matches the cell's identity (dataset "
                              f"{cell.dataset}, task {cell.task}, protocol {cell.protocol} "
                              f"with its parameters, preprocessing {cell.preprocess}, metric "
                              f"{cell.primary_metric})")
            continue
        table, info = _cell_table(cell, matched)
        tables.append(table)
        unit_info[cell.id] = info
    cells = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    summary, versus = _across_cells(suite, cells, unit_info)
    card = Scorecard(suite=suite, cells=cells, summary=summary, versus=versus, empty=empty)
    card.headline = headline(card)
    return card


def _across_cells(suite: Suite, cells: pd.DataFrame, info: dict[str, dict]
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    if cells.empty:
        return pd.DataFrame(), pd.DataFrame()
    summary, versus = [], []
    baseline_models = sorted({b for c in suite.cells for b in c.baselines})
    for label, own in cells.groupby("configuration", sort=True):
        record = {"configuration": label, "family": own["family"].iloc[0],
                  "n_cells": int(len(own)), "cells": " ".join(own["cell"]),
                  "mean_normalized_rank": float(own["normalized_rank"].mean())}
        vs_best = own[(own["best_baseline"] != "")
                      & (own["configuration"] != own["best_baseline"])]
        outcomes = [_outcome(d, p) for d, p in zip(vs_best["diff_vs_best_baseline"],
                                                    vs_best["p_vs_best_baseline"], strict=True)]
        z, p = _stouffer([_signed_z(d, pv) for d, pv in zip(vs_best["diff_vs_best_baseline"],
                                                            vs_best["p_vs_best_baseline"],
                                                            strict=True)],
                         np.sqrt(vs_best["n_units"].to_numpy(dtype=float)))
        record.update({"wins": outcomes.count("win"), "ties": outcomes.count("tie"),
                       "losses": outcomes.count("loss"), "stouffer_z": z, "stouffer_p": p})
        summary.append(record)
        for baseline in baseline_models:
            zs, ws, outs = [], [], []
            for cell_id in own["cell"]:
                cell_info = info[cell_id]
                targets = [lb for lb, m in cell_info["baselines"].items() if m == baseline]
                if not targets or targets[0] == label:
                    continue
                cmp = _compare(cell_info["scores"][label], cell_info["scores"][targets[0]],
                               cell_info["sign"])
                if cmp["n"] == 0:
                    continue
                zs.append(_signed_z(cmp["diff"], cmp["p"]))
                ws.append(math.sqrt(cmp["n"]))
                outs.append(_outcome(cmp["diff"], cmp["p"]))
            if not outs:
                continue
            bz, bp = _stouffer(zs, ws)
            versus.append({"configuration": label, "baseline": baseline, "n_cells": len(outs),
                           "wins": outs.count("win"), "ties": outs.count("tie"),
                           "losses": outs.count("loss"), "stouffer_z": bz, "stouffer_p": bp})
    summary = pd.DataFrame(summary).sort_values(
        ["n_cells", "mean_normalized_rank", "configuration"], ascending=[False, True, True],
        kind="stable").reset_index(drop=True)
    return summary, pd.DataFrame(versus)


def _p_text(p: float) -> str:
    if math.isnan(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def headline(card: Scorecard) -> str:
    """Return one sentence built from the scorecard's numbers.

    It names the best-ranked non-baseline configuration among those covering the most cells
    and its record against each cell's best baseline.
    """
    label = card.suite.label
    n_cells = len(card.suite.cells)
    if card.summary.empty:
        return f"{label}: no result matches any of its {n_cells} cells yet."
    baselines = set(card.cells.loc[card.cells["is_baseline"], "configuration"])
    candidates = card.summary[~card.summary["configuration"].isin(baselines)]
    kind = "non-baseline configurations"
    if candidates.empty:
        candidates, kind = card.summary, "configurations"
    most = candidates["n_cells"].max()
    top = candidates[candidates["n_cells"] == most].iloc[0]
    filled = n_cells - len(card.empty)
    return (f"On {label} ({filled} of {n_cells} cells with results), {top['configuration']} "
            f"has the best mean normalized rank among {kind} covering "
            f"{int(most)} cell(s) ({top['mean_normalized_rank']:.2f}; 0 = best of each cell); "
            f"against each cell's best baseline it wins {int(top['wins'])}, ties "
            f"{int(top['ties'])} and loses {int(top['losses'])} (Stouffer Z = "
            f"{top['stouffer_z']:.2f}, p {_p_text(top['stouffer_p'])}).")
