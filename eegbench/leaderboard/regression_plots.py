"""Plot of a regression table: each subject's mean prediction against its target."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from eegbench.leaderboard.plots import _SAVE, _slug  # noqa: E402
from eegbench.leaderboard.tables import BLOCK_COLUMNS  # noqa: E402


def predicted_vs_target(subjects: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One scatter per regression table: subjects' mean predictions vs their targets.

    ``subjects`` is :func:`eegbench.leaderboard.regression.subject_table`; the identity line
    is a perfect prediction, and each configuration's points share a marker colour.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for key, block in subjects.groupby(BLOCK_COLUMNS, sort=True):
        fig, ax = plt.subplots(figsize=(5, 4.5))
        for (model, adaptation, chash), cell in block.groupby(
                ["model", "adaptation", "config_hash"], sort=True):
            label = model if adaptation == "from_scratch" else f"{model} [{adaptation}]"
            ax.scatter(cell["target"], cell["mean_prediction"], s=18, alpha=0.75,
                       label=f"{label} ({chash[:6]})")
        values = np.concatenate([block["target"], block["mean_prediction"]])
        low, high = float(np.min(values)), float(np.max(values))
        pad = 0.05 * (high - low or 1.0)
        ax.plot([low - pad, high + pad], [low - pad, high + pad], "k--", lw=0.8,
                label="prediction = target")
        ax.set_xlabel("target (subject)")
        ax.set_ylabel("mean prediction over the subject's windows")
        ax.set_title(" / ".join(str(k) for k in key[:3]), fontsize=9)
        ax.legend(fontsize=7)
        path = out_dir / f"predicted_vs_target_{_slug(*key[:3])}.png"
        fig.savefig(path, **_SAVE)
        plt.close(fig)
        paths.append(path)
    return paths
