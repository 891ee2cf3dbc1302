"""Leaderboard plots (matplotlib, Agg backend).

Per-subject scores, k-shot curves, differences between adaptation modes and between
foundation rows and their references (with CIs), and score vs parameter count.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from eegbench.leaderboard.stats import bootstrap_ci  # noqa: E402
from eegbench.leaderboard.tables import (  # noqa: E402
    BLOCK_COLUMNS,
    CONFIG_COLUMNS,
    config_settings,
    per_subject_scores,
)

logger = logging.getLogger(__name__)

_SAVE = {"dpi": 110, "bbox_inches": "tight", "metadata": {"Software": None}}


def _slug(*parts: object) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "_".join(str(p) for p in parts)).strip("-")


def _label(row: pd.Series) -> str:
    label = str(row["model"])
    if row.get("adaptation") not in (None, "from_scratch"):
        label += f" [{row['adaptation']}]"
    if row.get("calibration") not in (None, "none"):
        label += f" ({row['calibration']})"
    return label


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, **_SAVE)
    plt.close(fig)
    return path


def _is_probe(frame: pd.DataFrame) -> pd.Series:
    return frame["adaptation"].astype(str).str.startswith("layer_probe:")


def per_subject_plot(frame: pd.DataFrame, metric: str, out_dir: Path) -> list[Path]:
    """One figure per non-few-shot table: a configuration x subject heatmap of the scores.

    Configurations are sorted by their mean (best on top, the mean in the label), so the
    figure stays readable with many models; layer probes are left out (see
    :func:`probe_vs_finetune_plot`).
    """
    subj = per_subject_scores(frame[~_is_probe(frame)], metric)
    paths = []
    for key, block in subj[subj["shots"] == 0].groupby(BLOCK_COLUMNS, sort=True):
        subjects = sorted(block["test_subject"].unique())
        settings = config_settings(frame[frame["config_hash"].isin(block["config_hash"])])
        rows = []
        for _, cfg in block.groupby(CONFIG_COLUMNS, sort=True):
            scores = cfg.set_index("test_subject")[metric].reindex(subjects)
            label = _label(cfg.iloc[0])
            setting = settings.get(str(cfg.iloc[0]["config_hash"]), "")
            label += f" ({setting})" if setting else ""
            rows.append((float(np.nanmean(scores)), label, scores.to_numpy()))
        rows.sort(key=lambda r: -r[0])
        grid = np.array([r[2] for r in rows], dtype=float)
        fig, ax = plt.subplots(figsize=(max(6.0, 0.32 * len(subjects) + 4.5),
                                        max(2.4, 0.38 * len(rows) + 1.6)))
        image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=np.nanmin(grid),
                          vmax=np.nanmax(grid))
        ax.set_xticks(range(len(subjects)), subjects, rotation=90, fontsize=7)
        ax.set_yticks(range(len(rows)), [f"{label}: mean {mean:.3f}"
                                         for mean, label, _ in rows], fontsize=7)
        ax.set_xlabel("test subject")
        ax.set_title(f"{key[0]} / {key[2]}: per-subject {metric.replace('_', ' ')}",
                     fontsize=10)
        fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
        paths.append(_save(fig, out_dir / f"per_subject_{_slug(*key[:3])}.png"))
    return paths


def kshot_plot(frame: pd.DataFrame, metric: str, out_dir: Path) -> list[Path]:
    """One figure per dataset/task: mean +- s.e.m. over subjects vs k, per configuration.

    Leave-one-subject-out results of the same models are drawn as dotted lines (k = 0: no
    calibration data from the test subject).
    """
    subj = per_subject_scores(frame[~_is_probe(frame)], metric)
    paths = []
    few = subj[subj["protocol"] == "fewshot"]
    for (dataset, task), block in few.groupby(["dataset", "task"], sort=True):
        fig, ax = plt.subplots(figsize=(6, 4))
        for _, cfg in block.groupby(CONFIG_COLUMNS, sort=True):
            stats = cfg.groupby("shots")[metric].agg(["mean", "sem"]).reset_index()
            ax.errorbar(stats["shots"], stats["mean"], yerr=stats["sem"].fillna(0), marker="o",
                        capsize=3, label=_label(cfg.iloc[0]))
        loso = subj[(subj["protocol"] == "loso") & (subj["dataset"] == dataset)
                    & (subj["task"] == task) & subj["model"].isin(block["model"].unique())]
        for _, cfg in loso.groupby(CONFIG_COLUMNS, sort=True):
            ax.axhline(cfg[metric].mean(), ls=":", lw=1.2, color="gray")
            ax.annotate(f"leave-one-subject-out {cfg['model'].iloc[0]}",
                        (0, cfg[metric].mean()), fontsize=7, color="gray", va="bottom")
        ax.set_xscale("symlog", linthresh=1)
        ks = sorted(block["shots"].unique())
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("calibration windows per class (k)")
        ax.set_ylabel(metric.replace("_", " "))
        ax.set_title(f"{dataset} / {task}: few-shot curves (mean ± s.e.m. over subjects)",
                     fontsize=10)
        ax.legend(fontsize=8)
        paths.append(_save(fig, out_dir / f"kshot_{_slug(dataset, task)}.png"))
    return paths


def _difference_with_ci(a: pd.Series, b: pd.Series) -> tuple[float, float, float]:
    """Mean paired difference a - b over shared subjects and its 95 % bootstrap CI."""
    both = a.index.intersection(b.index)
    d = (a[both] - b[both]).to_numpy(dtype=float)
    if not len(d):
        return float("nan"), float("nan"), float("nan")
    low, high = bootstrap_ci(d)
    return float(np.mean(d)), low, high


def _difference_bars(ax: plt.Axes, labels: list[str], values: list[tuple[float, float, float]],
                     colors: list[str]) -> None:
    """Horizontal bars of differences from 0 with their CI (NaN CI: no error bar)."""
    means = np.array([v[0] for v in values])
    err = np.array([[m - lo if np.isfinite(lo) else 0.0 for m, lo, _ in values],
                    [hi - m if np.isfinite(hi) else 0.0 for m, _, hi in values]])
    y = np.arange(len(values))
    ax.barh(y, means, xerr=err, capsize=3, color=colors)
    ax.axvline(0.0, color="black", lw=0.8)
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()


def probe_vs_finetune_plot(frame: pd.DataFrame, metric: str, out_dir: Path) -> list[Path]:
    """Per table: each adaptation of a model minus the same model's reference adaptation.

    For models with more than one adaptation mode, the reference is the linear probe when
    there is one (else the first mode in sorted order); bars show the mean paired difference
    over subjects with its 95 % percentile bootstrap CI, from 0, so that differences are
    visible (not bars of the scores from 0).
    """
    subj = per_subject_scores(frame, metric)
    paths = []
    for key, block in subj[subj["shots"] == 0].groupby(BLOCK_COLUMNS, sort=True):
        n_modes = block.groupby("model")["adaptation"].nunique()
        models = sorted(n_modes[n_modes > 1].index)
        if not models:
            continue
        labels, values, colors = [], [], []
        for i, model in enumerate(models):
            cells = {a: c.groupby("test_subject")[metric].mean()
                     for a, c in block[block["model"] == model].groupby("adaptation")}
            reference = "linear_probe" if "linear_probe" in cells else sorted(cells)[0]
            for adaptation in sorted(set(cells) - {reference}):
                labels.append(f"{model}: {adaptation} − {reference}")
                values.append(_difference_with_ci(cells[adaptation], cells[reference]))
                colors.append(f"C{i % 10}")
        fig, ax = plt.subplots(figsize=(7, max(2.2, 0.35 * len(labels) + 1.2)))
        _difference_bars(ax, labels, values, colors)
        ax.set_xlabel(f"difference in {metric.replace('_', ' ')} (mean over subjects, "
                      "95% bootstrap CI)")
        ax.set_title(f"{key[0]} / {key[2]}: adaptation modes against the model's reference",
                     fontsize=10)
        paths.append(_save(fig, out_dir / f"probe_vs_finetune_{_slug(*key[:3])}.png"))
    return paths


def _short(label: str, width: int = 90) -> str:
    """A comparison label without its config hash, cut to ``width`` characters."""
    text = label.split(";")[0].rstrip(")") + ")"
    return text if len(text) <= width else text[:width - 1] + "…"


def foundation_difference_plot(frame: pd.DataFrame, summary: pd.DataFrame,
                               out_dir: Path) -> list[Path]:
    """Per table and reference family: each foundation row minus its like-for-like reference.

    The comparisons of :func:`eegbench.leaderboard.sections.foundation_table` (inductive rows
    against the best inductive reference, transductive against transductive), as mean paired
    differences over subjects with 95 % percentile bootstrap CIs.
    """
    from eegbench.leaderboard.sections import foundation_table
    from eegbench.leaderboard.tables import primary_metrics

    table = foundation_table(frame, summary, primary_metrics(frame))
    if table.empty:
        return []
    paths = []
    for (dataset, task, protocol, shots, family), block in table.groupby(
            [*BLOCK_COLUMNS, "reference_family"], sort=True):
        metric = str(block["metric"].iloc[0])
        cell = frame[(frame["dataset"] == dataset) & (frame["task"] == task)
                     & (frame["protocol"] == protocol) & (frame["shots"] == shots)]
        subj = per_subject_scores(cell, metric)
        by_config = {c: g.set_index("test_subject")[metric]
                     for c, g in subj.groupby("config_hash")}
        labels = [_short(r["foundation"]) + ("" if r["test_data"] == "none" else " [test data]")
                  for _, r in block.iterrows()]
        values = [_difference_with_ci(by_config[r["foundation_config"]],
                                      by_config[r["reference_config"]])
                  for _, r in block.iterrows()]
        colors = ["C0" if r["test_data"] == "none" else "C1" for _, r in block.iterrows()]
        fig, ax = plt.subplots(figsize=(8, max(2.4, 0.32 * len(labels) + 1.4)))
        _difference_bars(ax, labels, values, colors)
        references = "; ".join(sorted(set(block["reference"].map(_short))))
        ax.set_xlabel(f"foundation − best {family} ({metric.replace('_', ' ')}, mean over "
                      "subjects, 95% bootstrap CI)")
        ax.set_title(f"{dataset} / {protocol}: foundation rows against {references}",
                     fontsize=9)
        paths.append(_save(fig, out_dir / f"foundation_vs_{family}_"
                                          f"{_slug(dataset, task, protocol, shots)}.png"))
    return paths


def score_vs_params_plot(summary: pd.DataFrame, metric: str, out_dir: Path) -> list[Path]:
    """Scatter of mean score vs parameter count (log scale), non-few-shot tables, no probes."""
    block = summary[(summary["shots"] == 0) & ~_is_probe(summary)]
    if block.empty:
        return []
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, ((dataset, protocol), sub) in enumerate(block.groupby(["dataset", "protocol"])):
        ax.scatter(sub["n_parameters"].clip(lower=1), sub[f"{metric}_mean"], color=f"C{i}",
                   label=f"{dataset} / {protocol}")
        for _, r in sub.iterrows():
            ax.annotate(_label(r), (max(r["n_parameters"], 1), r[f"{metric}_mean"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("parameters (fitted numbers for classical pipelines)")
    ax.set_ylabel(f"{metric.replace('_', ' ')} (mean over subjects)")
    ax.set_title("score vs model size", fontsize=10)
    ax.legend(fontsize=8)
    return [_save(fig, out_dir / "score_vs_params.png")]


def cd_diagram_plot(summary: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Critical-difference diagram per protocol (Friedman + Nemenyi across datasets).

    Configurations on a rank axis (1 = best); a bar of length CD (Nemenyi, 0.05) on top, and
    thick lines joining configurations whose mean ranks differ by less than CD (Demsar 2006).
    """
    from eegbench.leaderboard.sections import cd_inputs
    from eegbench.leaderboard.stats import friedman_nemenyi

    paths = []
    for (protocol, shots), table in cd_inputs(summary).items():
        res = friedman_nemenyi(table)
        ranks = res["mean_ranks"]
        k, cd = len(ranks), res["cd"]
        fig, ax = plt.subplots(figsize=(7, 1.2 + 0.3 * k))
        ax.set_xlim(0.5, k + 0.5)
        ax.set_ylim(-k - 1, 2)
        ax.invert_xaxis()  # best (rank 1) on the right, as usual
        ax.hlines(0, 1, k, color="black")
        for r in range(1, k + 1):
            ax.vlines(r, -0.1, 0.1, color="black")
            ax.text(r, 0.25, str(r), ha="center", fontsize=8)
        for i, (config, rank) in enumerate(ranks.items()):
            y = -(i + 1)
            ax.plot([rank, rank], [0, y], color="gray", lw=0.8)
            ax.text(rank, y, f" {config} ({rank:.2f})", fontsize=7, va="center",
                    ha="right" if i % 2 == 0 else "left")
        if np.isfinite(cd):
            ax.plot([1, 1 + cd], [1.2, 1.2], color="red", lw=2)
            ax.text(1 + cd / 2, 1.4, f"CD = {cd:.2f}", ha="center", fontsize=8, color="red")
            values = ranks.to_numpy()
            for i in range(k):  # maximal groups not significantly different
                j = max(jj for jj in range(i, k) if values[jj] - values[i] < cd)
                if j > i and not (i > 0 and values[j] - values[i - 1] < cd):
                    ax.plot([values[i], values[j]], [-0.5 - 0.15 * i] * 2, color="black", lw=3)
        p = res["friedman_p"]
        ax.set_title(f"{protocol}{f' k={shots}' if shots else ''}: {res['n_datasets']} datasets,"
                     f" Friedman p = {'n/a' if np.isnan(p) else f'{p:.3g}'}", fontsize=9)
        ax.axis("off")
        paths.append(_save(fig, out_dir / f"cd_diagram_{_slug(protocol, shots)}.png"))
    return paths


def make_plots(frame: pd.DataFrame, summary: pd.DataFrame, metric: str,
               out_dir: Path) -> list[Path]:
    """Write every plot that the results support into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (per_subject_plot(frame, metric, out_dir) + kshot_plot(frame, metric, out_dir)
             + probe_vs_finetune_plot(frame, metric, out_dir)
             + foundation_difference_plot(frame, summary, out_dir)
             + score_vs_params_plot(summary, metric, out_dir) + cd_diagram_plot(summary, out_dir))
    logger.info("wrote %d plot(s) in %s", len(paths), out_dir)
    return paths
