"""Do larger encoders transfer better? (``python -m eegbench study +exp=scale_study``).

The same objective pretrains the same encoder family at several sizes (``study.sizes``: name ->
architecture overrides) on the audited leave-one-dataset-out corpus, with the same number of
steps; each size is evaluated on the target like the objective study
(:func:`eegbench.studies.objective_study.run_transfer_study`). The plots put these rows beside
every other model of the results store on the same dataset and protocol (foundation models,
specialists, classical pipelines): score against parameters and against training compute
(seconds per fold on the machine that ran it), with the chance level drawn.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from eegbench.config import as_job
from eegbench.results.store import ResultStore
from eegbench.studies.objective_study import StudyJob, StudyVariant, run_transfer_study

logger = logging.getLogger(__name__)


def run_scale_study(job: StudyJob) -> pd.DataFrame:
    """Pretrain and evaluate each size of ``study.sizes``; write the table and the plots."""
    job = as_job(job, "study")
    spec = job.spec
    dataset = str(spec.dataset.name)
    variants = [StudyVariant(str(name), str(spec.study.objective), dict(arch))
                for name, arch in (job.section("study").get("sizes") or {}).items()]
    table = run_transfer_study(job, variants).rename(columns={"variant": "size"})
    if table.empty:
        logger.warning("scale study on %s: no encoder was evaluated", dataset)
        return table
    out_dir = Path(spec.study.output_dir) / dataset
    table.to_csv(out_dir / "scale_study.csv", index=False, float_format="%.4f")
    others = store_summary(Path(spec.paths.results_dir), dataset, str(spec.protocol.name))
    plot_scale(table, others, out_dir, dataset, chance_level(others, table))
    return table


def store_summary(results_dir: Path, dataset: str, protocol: str) -> pd.DataFrame:
    """Return one row per (model, adaptation, config) of the store on ``dataset``/``protocol``.

    Columns: ``model``, ``family``, ``adaptation``, ``balanced_accuracy`` (mean over folds),
    ``n_parameters`` (median), ``train_seconds`` (mean per fold), ``n_outputs``.
    """
    frame = ResultStore(results_dir).to_frame()
    if not len(frame):
        return pd.DataFrame()
    frame = frame[(frame["dataset"] == dataset) & (frame["protocol"] == protocol)
                  & ~frame["adaptation"].astype(str).str.startswith("layer_probe")]
    grouped = frame.groupby(["model", "family", "adaptation", "config_hash"], dropna=False)
    return grouped.agg(balanced_accuracy=("metric.balanced_accuracy", "mean"),
                       n_parameters=("n_parameters", "median"),
                       train_seconds=("train_seconds", "mean"),
                       folds=("fold", "nunique")).reset_index()


def chance_level(others: pd.DataFrame, table: pd.DataFrame) -> float:
    """Return the balanced-accuracy chance level, 1 / n_classes (0.5 if unknown)."""
    del others, table  # balanced accuracy's chance level does not depend on the class ratio
    return 0.5


def plot_scale(table: pd.DataFrame, others: pd.DataFrame, out_dir: Path, dataset: str,
               chance: float) -> None:
    """Write ``score_vs_parameters.png`` and ``score_vs_compute.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    final = table[table["step"] == table["step"].max()]
    for x, fname, label in (("n_parameters", "score_vs_parameters.png", "parameters"),
                            ("train_seconds", "score_vs_compute.png",
                             "training seconds per fold (this machine)")):
        fig, ax = plt.subplots(figsize=(6.5, 4.2))
        for family, block in (others.groupby("family") if len(others) else []):
            ax.scatter(block[x], block["balanced_accuracy"], s=18, alpha=0.6, label=family)
        for adaptation, block in final.groupby("adaptation"):
            block = block.sort_values(x)
            ax.plot(block[x], block["balanced_accuracy"], "-o", lw=1.5,
                    label=f"scale study ({adaptation})")
            for _, row in block.iterrows():
                ax.annotate(str(row["size"]), (row[x], row["balanced_accuracy"]),
                            fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(chance, color="grey", ls=":", lw=1, label=f"chance ({chance:.2f})")
        if np.all(np.concatenate([final[x].to_numpy(float),
                                  others[x].to_numpy(float) if len(others) else []]) > 0):
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("balanced accuracy (mean over folds)")
        ax.set_title(f"{dataset}: score vs {label.split(' ')[0]}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / fname, dpi=120)
        plt.close(fig)
