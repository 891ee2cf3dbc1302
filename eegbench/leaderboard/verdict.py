"""The verdict of one command: its models side by side, with the suite's statistics.

``python -m eegbench +exp=loso`` runs a classical pipeline, a specialist CNN and a foundation
model on the same folds; :func:`format_verdict` turns the rows that command produced into one
table per dataset x task x protocol and a few sentences. Every number is computed from the
rows (:func:`eegbench.leaderboard.tables.summarize`): the mean ± sample SD over test
subjects of the primary metric, a one-sided sign-flip test across subjects against chance,
and a paired Wilcoxon test of each model against the best one across subjects,
Holm-corrected (rows that used the test subject's unlabeled data, e.g. aligned on it, are
ranked and tested apart from the inductive ones). Convergence is shown beside: in how many
folds the selected (best validation) epoch lies below the epoch cap and the training loss
fell, or whether the linear probe converged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from eegbench.leaderboard.chance import CHANCE_ALPHA, format_p_chance
from eegbench.leaderboard.escape import md_table
from eegbench.leaderboard.tables import (
    BLOCK_COLUMNS,
    GROUP_COLUMNS,
    block_title,
    prepare,
    summarize,
)

#: Level at which a model is called worse than the best (Holm-adjusted paired test).
ALPHA = 0.05


def model_label(model: str, adaptation: str, config: Any) -> str:
    """Return a row's display label: model, adaptation and "random init" where it applies.

    A foundation model whose weights were never loaded (``model.params.init: random``) is
    labelled so: its score measures the architecture, not pretraining.
    """
    params = (config or {}).get("model", {}).get("params", {}) if isinstance(config, dict) \
        else {}
    details = [] if adaptation in ("from_scratch", "nan", "None") else [adaptation]
    if isinstance(params, dict) and params.get("init") == "random":
        details.append("random init")
    return f"{model} ({', '.join(details)})" if details else model


def _selected_below_cap(budget: Any) -> float:
    """1.0 if the selected epoch is below the epoch cap, 0.0 if at the cap, NaN if no epochs."""
    if not isinstance(budget, dict) or budget.get("best_epoch") is None \
            or budget.get("max_epochs") is None:
        return np.nan
    return float(int(budget["best_epoch"]) < int(budget["max_epochs"]))


def _probe_converged(budget: Any) -> float:
    if not isinstance(budget, dict) or budget.get("kind") not in ("linear_probe",
                                                                   "layer_probe"):
        return np.nan
    return float(bool(budget.get("converged")))


def convergence_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: ``converged`` as text (epochs below the cap, probe convergence).

    ``"selected epoch before the cap in k/n folds"`` for trained networks, ``"probe converged in k/n
    folds"`` for linear probes, ``"closed-form fit"`` for classical pipelines.
    """
    frame = prepare(frame)
    budgets = frame["budget"] if "budget" in frame else pd.Series(None, frame.index)
    frame["_below"] = budgets.map(_selected_below_cap)
    frame["_probe"] = budgets.map(_probe_converged)

    def describe(cell: pd.DataFrame) -> str:
        below, probe = cell["_below"].dropna(), cell["_probe"].dropna()
        if len(below):
            return f"selected epoch before the cap in {int(below.sum())}/{len(below)} folds"
        if len(probe):
            return f"probe converged in {int(probe.sum())}/{len(probe)} folds"
        return "closed-form fit" if (cell["family"] == "classical").all() else "n/a"

    rows = [{**dict(zip(GROUP_COLUMNS, key, strict=True)), "converged": describe(cell)}
            for key, cell in frame.groupby(GROUP_COLUMNS, dropna=False, sort=True)]
    return pd.DataFrame(rows, columns=[*GROUP_COLUMNS, "converged"])


def verdict_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Return the summary rows of a command's results, with labels and convergence.

    One row per table x configuration (:func:`eegbench.leaderboard.tables.summarize`) plus
    ``label`` and ``converged``.
    """
    if frame.empty:
        return pd.DataFrame()
    summary = summarize(frame, metrics=())
    labels = {}
    prepared = prepare(frame)
    for key, cell in prepared.groupby(GROUP_COLUMNS, dropna=False, sort=True):
        first = cell.iloc[0]
        labels[key] = model_label(str(first["model"]), str(first["adaptation"]),
                                  first.get("config"))
    summary["label"] = [labels.get(tuple(r[c] for c in GROUP_COLUMNS), r["model"])
                        for _, r in summary.iterrows()]
    return summary.merge(convergence_columns(frame), on=GROUP_COLUMNS, how="left")


def _fmt_p(p: Any) -> str:
    return "n/a" if p is None or pd.isna(p) else f"{p:.3g}"


def _block_lines(block: pd.DataFrame) -> list[str]:
    metric = str(block["primary_metric"].iloc[0]).replace("_", " ")
    header = ["rank", "model", "subjects", f"{metric} (mean ± sd)",
              "p vs chance (subjects)",
              "Δ vs best", "p vs best (Holm)", "converged", "train s/fold", "uses test data"]
    rows = []
    for _, r in block.iterrows():
        diff = r.get("diff_vs_best")
        spread = 0.0 if pd.isna(r["primary_std"]) else r["primary_std"]
        rows.append([
            str(r["rank"]), r["label"], str(r["n_subjects"]),
            f"{r['primary_mean']:.3f} ± {spread:.3f}",
            format_p_chance(r.get("p_chance"), r.get("above_chance"), r.get("p_chance_floor"),
                            bool(r.get("p_chance_exact"))),
            "—" if r.get("is_best") else ("n/a" if diff is None or pd.isna(diff)
                                          else f"{diff:+.3f}"),
            "best" if r.get("is_best") else _fmt_p(r.get("p_holm")),
            r.get("converged") or "n/a", f"{r['train_seconds']:.1f}",
            r.get("test_data") or "none"])
    return md_table(header, rows, html=False)  # printed to the terminal, never rendered


def _sentences(block: pd.DataFrame) -> list[str]:
    metric = str(block["primary_metric"].iloc[0]).replace("_", " ")
    best = block[block["is_best"] == True]  # noqa: E712 (object column)
    lines = []
    for _, b in best.iterrows():
        use = b.get("test_data") or "none"
        group = "inductive" if use == "none" else f"using {use}"
        lines.append(f"Best ({group}): {b['label']}, {metric} {b['primary_mean']:.3f} ± "
                     f"{b['primary_std']:.3f} over {b['n_subjects']} subjects.")
    for _, r in block.iterrows():
        parts = []
        p_chance = r.get("p_chance")
        if p_chance is not None and not pd.isna(p_chance):
            parts.append("above chance" if p_chance < CHANCE_ALPHA
                         else "NOT above chance")
            parts[-1] += f" (subject-level sign-flip p = {p_chance:.3g})"
        if not r.get("is_best"):
            p = r.get("p_holm")
            if p is None or pd.isna(p):
                parts.append("not tested against the best (too few shared subjects)")
            elif p < ALPHA:
                parts.append(f"worse than the best by {-r['diff_vs_best']:.3f} "
                             f"(Wilcoxon, Holm p = {p:.3g})")
            else:
                parts.append(f"not significantly different from the best "
                             f"(Δ {r['diff_vs_best']:+.3f}, Wilcoxon, Holm p = {p:.3g})")
        lines.append(f"- {r['label']}: " + "; ".join(parts) + ".")
    return lines


def format_verdict(frame: pd.DataFrame, missing: list[str] | None = None) -> str:
    """Return the verdict text of a command's rows: one table per block, then sentences.

    Parameters
    ----------
    frame : DataFrame
        The command's result rows (:func:`eegbench.results.store.rows_frame`).
    missing : list of str, optional
        Jobs of the command that produced no rows (named in the text).
    """
    lines: list[str] = []
    summary = verdict_summary(frame)
    if summary.empty:
        lines.append("No result rows: nothing to compare.")
    for key, block in (summary.groupby(BLOCK_COLUMNS, sort=True) if len(summary) else []):
        block = block.assign(_group=block["test_data"].ne("none")).sort_values(
            ["_group", "rank", "label"], kind="stable").drop(columns="_group")
        lines += [f"Verdict: {block_title(*key)}", ""]
        lines += _block_lines(block)
        lines += ["", *_sentences(block), ""]
        lines.append(f"Tests across test subjects: one-sided sign-flip permutation test of "
                     f"each subject's score minus chance ({CHANCE_ALPHA}); paired Wilcoxon "
                     f"signed-rank test against the best model that uses the test data the "
                     f"same way, Holm-corrected. Mean ± sample SD over subjects.")
        lines.append("")
    for job in missing or []:
        lines.append(f"No rows from job {job} (it failed or was interrupted; see its log).")
    return "\n".join(lines).rstrip() + "\n"
