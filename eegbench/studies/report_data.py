"""The rows, Hydra commands and provenance of a studies runs directory.

Also the helpers every study table shares: summaries, formatting, paired tests and the
committed reference rows.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from eegbench.leaderboard.escape import md_table
from eegbench.results.provenance import git_revision
from eegbench.results.shipped import load_frame

logger = logging.getLogger(__name__)

PATCH_MODELS = ("patch_tf_linear", "patch_tf_conv", "patch_tf_spectral", "patch_tf_channel_mix")
ERP_BASELINES = ("xdawn_ts_lr", "erp_lda")
_MILESTONE = re.compile(r"(?P<label>.+)_step(?P<step>\d+)\.pt$")


def checkpoint_variant(path: str | None) -> tuple[str | None, int | None]:
    """Return ``(label, step)`` of a study milestone path ``.../<label>_step<N>.pt``."""
    if not path:
        return None, None
    match = _MILESTONE.search(Path(str(path)).name)
    if not match:
        return Path(str(path)).stem, None
    return match["label"], int(match["step"])


def study_stores(runs: Path) -> list[Path]:
    """The results stores of a runs directory: ``<runs>/results`` and ``<runs>/<exp>/results``.

    Each experiment keeps its own store (``<paths.runs_dir>/<experiment.name>/results``);
    the experiment plan (``leaderboard/plan.yaml``) pins one store for all its study steps
    (``<runs>/results``).
    """
    return [p for p in [runs / "results", *sorted(runs.glob("*/results"))] if p.is_dir()]


def load_rows(runs: Path) -> pd.DataFrame:
    """Return the study stores' rows, with ``checkpoint_path``, ``label`` and ``step`` columns."""
    stores = study_stores(runs)
    frame = load_frame(stores) if stores else pd.DataFrame()
    if not len(frame):
        raise FileNotFoundError(f"No result rows under {runs}/results or {runs}/*/results: run "
                                "the plan's study steps first (python -m eegbench.leaderboard plan "
                                "studies).")
    paths = [((c or {}).get("model", {}).get("params", {}) or {}).get("checkpoint")
             for c in frame["config"]]
    frame["checkpoint_path"] = paths
    parsed = [checkpoint_variant(p) for p in paths]
    frame["label"] = [p[0] for p in parsed]
    frame["step"] = [p[1] for p in parsed]
    # the same encoder (sha256) probed twice on one fold (its path written once relative, once
    # absolute; or probed again after the standardization code changed the data's cache key)
    # is one result, not two: the newest row is kept
    # (a model without a checkpoint: the same configuration on one fold, e.g. a pipeline run
    # again after such a change)
    frame = frame.sort_values("created_at", kind="stable").reset_index(drop=True)
    identity = frame["checkpoint"].where(frame["checkpoint"].notna(), frame["config_hash"])
    dup = frame.assign(identity=identity.astype(str)).duplicated(
        subset=["dataset", "protocol", "model", "identity", "adaptation", "fold", "seed"],
        keep="last")
    return frame[~dup.to_numpy()].reset_index(drop=True)


def _subcommand(hydra_dir: Path) -> str:
    """The eegbench subcommand of a logged run (``experiment.command``; "" for ``run``)."""
    config = hydra_dir / "config.yaml"
    text = config.read_text() if config.is_file() else ""
    match = re.search(r"^experiment:\n(?:  .*\n)*?  command: (\w+)$", text, re.M)
    return "" if not match or match[1] == "run" else f"{match[1]} "


def hydra_commands(runs: Path, must_contain: Iterable[str]) -> list[str]:
    """Return the ``python -m eegbench ...`` command of every Hydra run matching all strings."""
    needles = list(must_contain)
    commands = set()
    for file in sorted((runs / "logs").glob("**/.hydra/overrides.yaml")):
        overrides = [line[2:].strip() for line in file.read_text().splitlines()
                     if line.startswith("- ")]
        if all(any(n in o for o in overrides) for n in needles):
            commands.add(f"python -m eegbench {_subcommand(file.parent)}" + " ".join(overrides))
    return sorted(commands)


def summarise(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean / sample SD of balanced accuracy and mean ROC AUC over folds, per ``keys``."""
    grouped = rows.groupby(keys, dropna=False)
    out = grouped.agg(balanced_accuracy=("metric.balanced_accuracy", "mean"),
                      balanced_accuracy_sd=("metric.balanced_accuracy", "std"),
                      roc_auc=("metric.roc_auc", "mean"), folds=("fold", "nunique"),
                      n_parameters=("n_parameters", "median"),
                      train_seconds=("train_seconds", "mean")).reset_index()
    return out


def provenance(rows: pd.DataFrame, commands: list[str], extra: dict | None = None,
               step: str | None = None, revision: str | None = None) -> str:
    """Return a Markdown provenance block for the rows of one study.

    ``revision``: the git revision of the rendering code, taken before any file was written
    (default: now).
    """
    revs = sorted(set(rows["git_revision"].astype(str)))
    fps = rows.groupby("dataset")["data_fingerprint"].agg(lambda s: sorted(set(map(str, s))))
    lines = ["", "### Provenance", "",
             f"- rows computed at git revision(s): {', '.join(f'`{r}`' for r in revs)}",
             "- rendered by `python -m eegbench.studies.report` at "
             f"`{revision or git_revision()}`",
             f"- seeds: {sorted(set(int(s) for s in rows['seed']))}; rows created "
             f"{rows['created_at'].min()} to {rows['created_at'].max()}",
             "- data fingerprints: " + "; ".join(f"{d}: {', '.join(f'`{x}`' for x in v)}"
                                                  for d, v in fps.items())]
    for key, value in (extra or {}).items():
        lines.append(f"- {key}: {value}")
    if step:
        lines.append(f"- regenerate: `EEGBENCH_STUDY_RUNS=<dir> python -m eegbench.leaderboard "
                     f"plan {step} studies_tables` (budgets: the variables of "
                     f"leaderboard/plan.yaml)")
    lines += ["- commands (Hydra overrides, run from the repository root):", ""]
    lines += [f"      {c}" for c in sorted(set(commands))] or [
        "      (no Hydra log under the runs directory: not run from the command line)"]
    lines.append("")
    return "\n".join(lines)


def format_mean_sd(mean: float, sd: float) -> str:
    """``mean ± sd`` to three decimals (``-`` for no value, the mean alone without an SD)."""
    if not np.isfinite(mean):
        return "-"
    return f"{mean:.3f} ± {sd:.3f}" if np.isfinite(sd) else f"{mean:.3f}"


def markdown_table(frame: pd.DataFrame) -> str:
    """A data frame as a Markdown table (cells escaped)."""
    return "\n".join(md_table(list(frame.columns), frame.to_numpy().tolist()))


def paired_wilcoxon(a: pd.Series, b: pd.Series) -> float:
    """Paired two-sided Wilcoxon p of two per-fold score series (aligned on fold)."""
    from scipy.stats import wilcoxon

    pair = pd.concat([a, b], axis=1, join="inner").dropna()
    diff = pair.iloc[:, 0] - pair.iloc[:, 1]
    if len(pair) < 5 or np.allclose(diff, 0):
        return float("nan")
    return float(wilcoxon(pair.iloc[:, 0], pair.iloc[:, 1]).pvalue)


def pretrain_meta(checkpoint: str | None, runs: Path) -> dict:
    """The ``.json`` metadata written beside a pretrained checkpoint (``{}`` if none).

    A path recorded under another runs directory is looked up below ``runs`` from its
    ``objective_study`` or ``pretrain`` folder on.
    """
    if not checkpoint:
        return {}
    path = Path(f"{checkpoint}.json")
    for anchor in ("objective_study", "pretrain"):  # rendered from another directory
        if not path.is_file() and anchor in path.parts:
            path = runs.joinpath(*path.parts[path.parts.index(anchor):])
    return json.loads(path.read_text()) if path.is_file() else {}


def reference_rows(path: Path, dataset_protocols: set[tuple[str, str]]) -> pd.DataFrame:
    """Committed leaderboard rows (``rows.jsonl``) of plain leave-one-subject-out configurations.

    One row per (dataset, model, adaptation): mean balanced accuracy and median parameters.
    Audit variants and aligned variants are left out.
    """
    if not path.is_file():
        return pd.DataFrame()
    frame = pd.read_json(path, lines=True)
    frame["balanced_accuracy"] = [m.get("balanced_accuracy") for m in frame["metrics"]]
    plain = [not (c or {}).get("audit") and not ((c or {}).get("protocol") or {}).get("align")
             for c in frame["config"]]
    keep = [(d, p) in dataset_protocols for d, p in zip(frame["dataset"], frame["protocol"],
                                                           strict=True)]
    frame = frame[np.array(plain) & np.array(keep)]
    return frame.groupby(["dataset", "model", "family", "adaptation"]).agg(
        balanced_accuracy=("balanced_accuracy", "mean"),
        n_parameters=("n_parameters", "median")).reset_index()
