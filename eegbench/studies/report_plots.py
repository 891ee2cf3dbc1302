"""The studies' plots: score vs pretraining steps, vs parameters and vs pretraining compute."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


def new_figure():
    """A new figure and axes of the studies' plots (non-interactive backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6.5, 4.2))


def finish_figure(fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> None:
    """Draw chance (0.5 balanced accuracy), log x axis, labels and legend; save and close."""
    import matplotlib.pyplot as plt

    ax.axhline(0.5, color="grey", lw=0.8, ls=":", label="chance")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_steps(summary: pd.DataFrame, path: Path, dataset: str) -> None:
    """Score vs pretraining steps, one curve per objective (and adaptation), chance drawn.

    ``summary``: one row per ``label`` (objective or size), ``step`` and optionally
    ``adaptation``, with ``balanced_accuracy``, ``balanced_accuracy_sd`` and ``folds``.
    """
    if "adaptation" not in summary:
        summary = summary.assign(adaptation="linear_probe")
    several = summary["adaptation"].nunique() > 1
    fig, ax = new_figure()
    for (label, adaptation), block in summary.groupby(["label", "adaptation"]):
        block = block.sort_values("step")
        x = block["step"].to_numpy(float)
        ax.errorbar(x + 1, block["balanced_accuracy"],
                    yerr=block["balanced_accuracy_sd"] / np.sqrt(block["folds"]),
                    fmt="-o" if adaptation == "linear_probe" else "--s", ms=4, capsize=2,
                    label=f"{label} ({adaptation})" if several else str(label))
    finish_figure(fig, ax, path, "pretraining steps + 1 (1 = random initialisation)",
            "balanced accuracy (mean ± SEM over folds)" if several else
            "balanced accuracy (linear probe, mean ± SEM over folds)",
            f"{dataset}: score vs pretraining steps")


def plot_scale_reference(summary: pd.DataFrame, reference: pd.DataFrame | None, path: Path,
                         dataset: str) -> None:
    """Score vs encoder parameters (per step) beside the committed leaderboard's models."""
    fig, ax = new_figure()
    for step, block in summary.groupby("step"):
        block = block.sort_values("n_parameters")
        ax.plot(block["n_parameters"], block["balanced_accuracy"], "-o",
                label=f"CBraMod probe, {step} pretraining steps")
        for _, row in block.iterrows():
            ax.annotate(str(row["label"]), (row["n_parameters"], row["balanced_accuracy"]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
    ref = (reference[(reference["dataset"] == dataset) & (reference["n_parameters"] > 0)]
           if reference is not None and len(reference) else pd.DataFrame())
    for _, row in ref.iterrows():
        ax.scatter(row["n_parameters"], row["balanced_accuracy"], marker="s", s=22,
                   color="tab:grey")
        ax.annotate(f"{row['model']} (leaderboard)", (row["n_parameters"],
                                                     row["balanced_accuracy"]),
                    fontsize=6, xytext=(3, -8), textcoords="offset points")
    finish_figure(fig, ax, path, "parameters (encoder; leaderboard models: whole model)",
            "balanced accuracy (mean over folds)", f"{dataset}: score vs parameters")


def plot_scale_compute(summary: pd.DataFrame, path: Path, dataset: str) -> None:
    """Score vs pretraining compute, one curve per encoder size through its saved steps.

    Compute is measured in parameter-steps (encoder parameters x pretraining steps): every size
    pretrains on the same pool with the same seed and batch, so its training FLOPs are about
    6 x parameters x tokens seen (Kaplan et al. 2020) with the same tokens for every size, and
    parameter-steps rank and scale them alike, independently of the machine's load (wall-clock
    seconds on a shared CPU do not). Step 0 (no pretraining) is drawn at the left edge.
    """
    fig, ax = new_figure()
    compute = summary["n_parameters"].astype(float) * summary["step"].astype(float)
    floor = compute[compute > 0].min() / 3 if (compute > 0).any() else 1.0
    for label, block in summary.assign(compute=compute.clip(lower=floor)).groupby("label"):
        block = block.sort_values("step")
        ax.errorbar(block["compute"], block["balanced_accuracy"],
                    yerr=block["balanced_accuracy_sd"] / np.sqrt(block["folds"]),
                    fmt="-o", ms=4, capsize=2,
                    label=f"{label} ({int(block['n_parameters'].iloc[0]):,} parameters)")
    ax.axvline(floor, color="grey", lw=0.5, ls="--")
    finish_figure(fig, ax, path,
            "pretraining compute: parameters x steps (left line: step 0, no pretraining)",
            "balanced accuracy (linear probe, mean ± SEM over folds)",
            f"{dataset}: score vs pretraining compute")
