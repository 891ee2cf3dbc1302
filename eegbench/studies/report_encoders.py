"""Study tables comparing encoders on one target.

The patch-embedding study (against the ERP baselines, with chance tests and Holm-adjusted
paired differences) and the MEG tokenizer study.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from eegbench.leaderboard.escape import md_heading
from eegbench.leaderboard.stats import holm
from eegbench.leaderboard.tables import format_p_chance
from eegbench.studies.report_data import (
    ERP_BASELINES,
    PATCH_MODELS,
    format_mean_sd,
    hydra_commands,
    markdown_table,
    paired_wilcoxon,
    pretrain_meta,
    provenance,
    summarise,
)

logger = logging.getLogger(__name__)


def budget_cell(budgets: pd.Series) -> str:
    """One cell describing a model's training budget over its folds (trainer or probe)."""
    first = next((b for b in budgets if isinstance(b, dict)), None)
    if first is None:
        return "-"
    if "max_epochs" not in first:  # a classical pipeline or probe: its kind only
        return str(first.get("kind", "closed form"))
    runs = [b.get("epochs_run") for b in budgets if isinstance(b, dict)]
    best = [b.get("best_epoch") for b in budgets if isinstance(b, dict)]
    runs = [r for r in runs if r is not None]
    best = [b for b in best if b is not None]
    patience = first.get("patience")
    text = f"max {first['max_epochs']} epochs, " + (f"patience {patience}" if patience
                                                    else "no early stopping")
    if runs:
        text += f"; ran {int(np.median(runs))} (median), best epoch {int(np.median(best))}"
    return text


def _train_loss(reports: pd.Series) -> str:
    """Median first -> last training loss over folds, and in how many folds it fell."""
    pairs = [(r["train_loss_first"], r["train_loss_last"]) for r in reports
             if isinstance(r, dict) and r.get("train_loss_first") is not None
             and r.get("train_loss_last") is not None]
    if not pairs:
        return "-"
    first, last = np.median(np.asarray(pairs, dtype=float), axis=0)
    fell = sum(b < a for a, b in pairs)
    return f"{first:.3f} -> {last:.3f} ({fell}/{len(pairs)} fell)"


def _chance_p(part: pd.DataFrame) -> float:
    """One-sided p of a cell against chance (labels permuted within each test fold)."""
    from eegbench.leaderboard.stats import permutation_chance_test

    return permutation_chance_test(list(part["predictions"]), list(part["test_subject"]),
                                   "balanced_accuracy")["p_value"]


def render_patch(rows: pd.DataFrame, runs: Path, out: Path,
                 reference_model: str = "xdawn_ts_lr", revision: str | None = None) -> list[str]:
    """Patch-embedding study: the four embeddings vs the ERP baselines, per dataset/protocol.

    Per cell: balanced accuracy (mean ± SD over folds), ROC AUC, a permutation test against
    chance (labels permuted within each test fold, 1000 permutations), the paired difference to
    ``reference_model`` with its two-sided Wilcoxon p over folds (NaN under 5 shared folds),
    the training budget actually run and the median training loss of the transformers.
    """
    block = rows[rows["model"].isin(PATCH_MODELS + ERP_BASELINES)]
    if not len(block):
        return []
    # config_hash keeps different budgets of one model apart (never averaged together)
    keys = ["dataset", "protocol", "model", "config_hash"]
    summary = summarise(block, keys)
    groups = dict(list(block.groupby(keys, dropna=False)))
    summary["budget"] = [budget_cell(groups[k]["budget"]) for k in
                         summary[keys].itertuples(index=False, name=None)]
    summary["train_loss"] = [_train_loss(groups[k]["fit_report"]) for k in
                             summary[keys].itertuples(index=False, name=None)]
    summary["p_chance"] = [_chance_p(groups[k]) for k in
                           summary[keys].itertuples(index=False, name=None)]
    text = ["## Patch embeddings on ERP data", "",
            "Balanced accuracy (mean ± SD over folds) and ROC AUC; patch_tf_* = the same small "
            "transformer (2 blocks, d_model 64, 16-sample patches) with four patch embeddings, "
            "trained from scratch under the budget in its row (epochs selected on the "
            "validation subjects or runs of the training set, never the test fold). "
            "`p vs chance`: labels permuted within each test fold (1000 permutations, "
            "one-sided). "
            f"`Δ vs {reference_model}`: paired over folds, two-sided Wilcoxon p (n/a under "
            "5 folds; with 5 folds the smallest possible p is 0.0625) and its Holm correction "
            "for the models of the table.", ""]
    order = {m: i for i, m in enumerate(PATCH_MODELS + ERP_BASELINES)}
    deltas = []
    for (dataset, protocol), part in summary.groupby(["dataset", "protocol"]):
        part = part.sort_values("model", key=lambda s: s.map(order))
        cell = block[(block["dataset"] == dataset) & (block["protocol"] == protocol)]
        per_fold = cell.groupby(["model", "config_hash", "fold"])[
            "metric.balanced_accuracy"].mean()
        ref = part[part["model"] == reference_model]
        ref_scores = (per_fold.loc[(reference_model, ref["config_hash"].iloc[0])]
                      if len(ref) else None)
        cells: list[tuple[float, float] | None] = []
        for model, config_hash in zip(part["model"], part["config_hash"], strict=True):
            if ref_scores is None or model == reference_model:
                cells.append(None)
                continue
            mine = per_fold.loc[(model, config_hash)]
            pair = pd.concat([mine, ref_scores], axis=1, join="inner").dropna()
            cells.append((float((pair.iloc[:, 0] - pair.iloc[:, 1]).mean()),
                          paired_wilcoxon(mine, ref_scores)))
        tested = [c for c in cells if c is not None]
        adjusted = iter(holm([p for _, p in tested]) if tested else [])
        delta_cells = []
        for model, config_hash, cell in zip(part["model"], part["config_hash"], cells,
                                            strict=True):
            if cell is None:
                delta_cells.append("-")
                continue
            diff, p = cell
            p_holm = float(next(adjusted))
            delta_cells.append(f"{diff:+.3f} (p {p:.3g}, Holm {p_holm:.3g})" if np.isfinite(p)
                               else f"{diff:+.3f} (p n/a)")
            deltas.append({"dataset": dataset, "protocol": protocol, "model": model,
                           "config_hash": config_hash, "delta_vs_reference": diff,
                           "wilcoxon_p": p, "holm_p": p_holm})
        frame = pd.DataFrame({
            "model": part["model"],
            "balanced accuracy": [format_mean_sd(m, s) for m, s in zip(part["balanced_accuracy"],
                                                             part["balanced_accuracy_sd"],
                                                             strict=True)],
            "ROC AUC": part["roc_auc"].map(lambda v: f"{v:.3f}"),
            "p vs chance": part["p_chance"].map(format_p_chance),
            f"Δ vs {reference_model}": delta_cells,
            "folds": part["folds"],
            "parameters": part["n_parameters"].map(lambda v: f"{int(v):,}"),
            "train s / fold": part["train_seconds"].map(lambda v: f"{v:.1f}"),
            "train loss (median)": part["train_loss"],
            "budget": part["budget"]})
        text += [md_heading(3, f"{dataset}, {protocol}"), "", markdown_table(frame), ""]
    delta_frame = pd.DataFrame(deltas, columns=["dataset", "protocol", "model", "config_hash",
                                                "delta_vs_reference", "wilcoxon_p", "holm_p"])
    summary.merge(delta_frame, on=["dataset", "protocol", "model", "config_hash"],
                  how="left").to_csv(out / "patch_embeddings.csv", index=False,
                                     float_format="%.4f")
    text += ["Files: `patch_embeddings.csv`",
             provenance(block, [c for m in PATCH_MODELS + ERP_BASELINES
                                for c in hydra_commands(runs, [f"model={m}"])],
                        step="study_patch", revision=revision)]
    return ["\n".join(text)]


def _meg_encoder(path: str | None, model: str) -> str:
    """Row label of the MEG table: the tokenizer checkpoint without its seed, or the model."""
    if model != "brain_tokenizer" or not path:
        return model
    return re.sub(r"_seed\d+", "", Path(str(path)).stem)


def render_meg(rows: pd.DataFrame, runs: Path, out: Path,
               revision: str | None = None) -> list[str]:
    """MEG within-subject table: tokenizer pretrained on EEG + MEG / EEG only / none, ts_lr."""
    block = rows[rows["dataset"].astype(str).str.startswith("meg_")]
    if not len(block):
        return []
    metas = {p: pretrain_meta(p, runs) for p in set(block["checkpoint_path"].dropna())}
    block = block.assign(
        encoder=[_meg_encoder(p, m) for p, m in zip(block["checkpoint_path"], block["model"],
                                                    strict=True)],
        pretrain_seed=[metas[p].get("seed") if p in metas else None
                       for p in block["checkpoint_path"]])
    summary = summarise(block, ["encoder", "model", "protocol", "adaptation"])
    entries = []
    for _, r in summary.iterrows():
        part = block[block["encoder"] == r["encoder"]]
        meta = metas.get(part["checkpoint_path"].iloc[0]) or {}
        by_seed = part.groupby("pretrain_seed")["metric.balanced_accuracy"].mean()
        entries.append({
            "encoder": r["encoder"], "adaptation": r["adaptation"],
            "pretraining data": ", ".join(d["recipe"] for d in meta.get("datasets", []))
            if meta.get("steps") else ("none (random init)" if meta else "-"),
            "pretraining steps": meta.get("steps", "-") if meta else "-",
            "balanced accuracy": format_mean_sd(r["balanced_accuracy"], r["balanced_accuracy_sd"]),
            "per pretraining seed": ", ".join(f"{v:.3f}" for v in by_seed) if len(by_seed)
            else "-",
            "ROC AUC": f"{r['roc_auc']:.3f}", "p vs chance": format_p_chance(_chance_p(part)),
            "folds": r["folds"],
            "fold x seed rows": len(part)})
    frame = pd.DataFrame(entries)
    frame.to_csv(out / "meg_within_subject.csv", index=False)
    n_classes = block["predicted_class_counts"].map(len).max()
    text = ["## MEG within subject (Elekta recording)", "",
            f"Balanced accuracy (mean ± SD over blocked K-fold folds and tokenizer pretraining "
            f"seeds) on the single MEG recording ({n_classes} trigger codes, chance "
            f"{1 / n_classes:.3f}). The tokenizer rows are the converged linear probe on the "
            "frozen encoder; `_step0` = its random initialisation. `p vs chance`: labels "
            "permuted within each test fold (1000 permutations, one-sided; the windows of one "
            "recording are not independent, so this checks that predictions carry label "
            "information, not generalisation).", "", markdown_table(frame), "",
            "Files: `meg_within_subject.csv`",
            provenance(block, hydra_commands(runs, ["dataset=meg_elekta_3ch"])
                       + hydra_commands(runs, ["+exp=pretrain_tokenizer"]), step="study_meg",
                       revision=revision)]
    return ["\n".join(text)]
