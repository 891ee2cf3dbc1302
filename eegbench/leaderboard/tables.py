"""Summary tables: mean +- std over test subjects per dataset x task x protocol x model."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

GROUP_COLUMNS = ["dataset", "task", "protocol", "model", "family", "adaptation", "config_hash"]


def per_subject_scores(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Average each subject's score over seeds (the unit of the statistics is the subject)."""
    column = f"metric.{metric}"
    if column not in frame:
        raise KeyError(f"metric {metric!r} not in the results; available: "
                       f"{sorted(c[7:] for c in frame if c.startswith('metric.'))}")
    return (frame.groupby(GROUP_COLUMNS + ["test_subject"], dropna=False)[column]
            .mean().rename(metric).reset_index())


def summarize(frame: pd.DataFrame, metrics: Sequence[str] = ("balanced_accuracy", "roc_auc",
                                                              "cohen_kappa", "f1_weighted")
              ) -> pd.DataFrame:
    """Return one row per configuration with mean/std over subjects of each metric.

    Parameters
    ----------
    frame : DataFrame
        Flat results (:meth:`eegbench.results.ResultStore.to_frame`).
    metrics : sequence of str
        Metrics to summarise.

    Returns
    -------
    DataFrame
        Columns: the group columns, ``n_subjects``, ``n_seeds``, ``n_parameters``,
        ``train_seconds`` (mean per fold) and ``<metric>_mean`` / ``<metric>_std``.
    """
    if frame.empty:
        return pd.DataFrame()
    grouped = frame.groupby(GROUP_COLUMNS, dropna=False)
    out = grouped.agg(n_subjects=("test_subject", "nunique"), n_seeds=("seed", "nunique"),
                      n_parameters=("n_parameters", "median"),
                      train_seconds=("train_seconds", "mean")).reset_index()
    for metric in metrics:
        subj = per_subject_scores(frame, metric)
        stats = (subj.groupby(GROUP_COLUMNS, dropna=False)[metric]
                 .agg(["mean", "std"]).rename(columns=lambda c, m=metric: f"{m}_{c}")
                 .reset_index())
        out = out.merge(stats, on=GROUP_COLUMNS, how="left")
    if "roc_auc_mean" in out:  # efficiency: AUC per decade of parameters
        out["e_param"] = out["roc_auc_mean"] / np.log10(out["n_parameters"].clip(lower=10))
    sort_metric = f"{metrics[0]}_mean"
    return out.sort_values(["dataset", "task", "protocol", sort_metric],
                           ascending=[True, True, True, False]).reset_index(drop=True)


def _fmt(mean: float, std: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    return f"{mean:.3f} ± {0.0 if std is None or np.isnan(std) else std:.3f}"


def to_markdown(summary: pd.DataFrame, metrics: Sequence[str]) -> str:
    """Render a summary as a Markdown table (one section per dataset/task/protocol)."""
    lines: list[str] = []
    for (dataset, task, protocol), block in summary.groupby(["dataset", "task", "protocol"],
                                                            sort=True):
        lines += [f"### {dataset} / {task} / {protocol}", ""]
        header = ["model", "family", "adaptation", "n subjects", "seeds", "params"]
        header += [m.replace("_", " ") for m in metrics] + ["E_param", "train s/fold", "config"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---"] * len(header)) + "|")
        for _, r in block.iterrows():
            cells = [r["model"], r["family"], r["adaptation"], str(r["n_subjects"]),
                     str(r["n_seeds"]), f"{int(r['n_parameters']):,}"]
            cells += [_fmt(r[f"{m}_mean"], r[f"{m}_std"]) for m in metrics]
            e_param = r.get("e_param", float("nan"))
            cells += ["n/a" if pd.isna(e_param) else f"{e_param:.3f}"]
            cells += [f"{r['train_seconds']:.1f}", f"`{r['config_hash']}`"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
