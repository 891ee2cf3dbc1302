"""Render the studies of a runs directory into ``leaderboard/studies/`` (tables, plots, provenance).

``python -m eegbench.studies.report --runs runs/studies --out leaderboard/studies`` reads what
``leaderboard/regenerate.sh study_*`` left in its own runs directory (a results store that is
never the leaderboard's, the pretrained encoders' ``.json`` metadata, Hydra's override files)
and writes, per study, a CSV, a Markdown table with a provenance block (git revisions of the
rows and of this rendering, the exact command-line overrides, seeds, data fingerprints,
pretraining budgets) and the plots. Nothing here trains or evaluates a model.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from eegbench.leaderboard.escape import md_heading, md_table
from eegbench.leaderboard.stats import holm
from eegbench.leaderboard.tables import format_p_chance
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
    ``leaderboard/regenerate.sh`` pins one store for all its study steps (``<runs>/results``).
    """
    return [p for p in [runs / "results", *sorted(runs.glob("*/results"))] if p.is_dir()]


def load_rows(runs: Path) -> pd.DataFrame:
    """Return the study stores' rows, with ``checkpoint_path``, ``label`` and ``step`` columns."""
    stores = study_stores(runs)
    frame = load_frame(stores) if stores else pd.DataFrame()
    if not len(frame):
        raise FileNotFoundError(f"No result rows under {runs}/results or {runs}/*/results: run "
                                f"the study steps of leaderboard/regenerate.sh first.")
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
        lines.append(f"- regenerate: `EEGBENCH_STUDY_RUNS=<dir> bash leaderboard/regenerate.sh "
                     f"{step} studies_tables` (budgets: the variables at the top of the script)")
    lines += ["- commands (Hydra overrides, run from the repository root):", ""]
    lines += [f"      {c}" for c in sorted(set(commands))] or [
        "      (no Hydra log under the runs directory: not run from the command line)"]
    lines.append("")
    return "\n".join(lines)


def _fmt(mean: float, sd: float) -> str:
    if not np.isfinite(mean):
        return "-"
    return f"{mean:.3f} ± {sd:.3f}" if np.isfinite(sd) else f"{mean:.3f}"


def _markdown(frame: pd.DataFrame) -> str:
    return "\n".join(md_table(list(frame.columns), frame.to_numpy().tolist()))


def _wilcoxon(a: pd.Series, b: pd.Series) -> float:
    """Paired two-sided Wilcoxon p of two per-fold score series (aligned on fold)."""
    from scipy.stats import wilcoxon

    pair = pd.concat([a, b], axis=1, join="inner").dropna()
    diff = pair.iloc[:, 0] - pair.iloc[:, 1]
    if len(pair) < 5 or np.allclose(diff, 0):
        return float("nan")
    return float(wilcoxon(pair.iloc[:, 0], pair.iloc[:, 1]).pvalue)


def _pretrain_meta(checkpoint: str | None, runs: Path) -> dict:
    if not checkpoint:
        return {}
    path = Path(f"{checkpoint}.json")
    for anchor in ("objective_study", "pretrain"):  # rendered from another directory
        if not path.is_file() and anchor in path.parts:
            path = runs.joinpath(*path.parts[path.parts.index(anchor):])
    return json.loads(path.read_text()) if path.is_file() else {}


def _transfer_table(block: pd.DataFrame, summary: pd.DataFrame, runs: Path, kind: str,
                    labels: tuple[str, ...]) -> pd.DataFrame:
    """One line per objective / size: score at each step, last-vs-0 change and its test."""
    per_fold = block.pivot_table(index=["label", "step"], columns="fold",
                                 values="metric.balanced_accuracy")
    steps = sorted(summary["step"].unique())
    table = []
    for label in [lab for lab in labels if lab in set(summary["label"])]:
        s = summary[summary["label"] == label].set_index("step")
        entry = {"objective" if kind == "objective" else "size": label}
        if kind == "scale":
            entry["parameters"] = f"{int(s['n_parameters'].iloc[0]):,}"
        for step in steps:
            entry[f"step {step}"] = (_fmt(s.loc[step, "balanced_accuracy"],
                                          s.loc[step, "balanced_accuracy_sd"])
                                     if step in s.index else "-")
        entry["folds"] = "/".join(str(int(s.loc[st, "folds"])) for st in steps
                                  if st in s.index)
        last = max(st for st in steps if st in s.index)
        if 0 in s.index and last > 0:
            gain = s.loc[last, "balanced_accuracy"] - s.loc[0, "balanced_accuracy"]
            p_value = _wilcoxon(per_fold.loc[(label, last)], per_fold.loc[(label, 0)])
            entry["Δ (last - 0)"] = f"{gain:+.3f}"
            entry["Wilcoxon p"] = p_value
        chosen = block[(block["label"] == label) & (block["step"] == last)]
        meta = _pretrain_meta(chosen["checkpoint_path"].iloc[0], runs)
        entry["pretrain s"] = (f"{meta['seconds']:.0f} ({meta['steps']} steps)"
                               if meta.get("seconds") else "-")
        entry["last loss"] = (f"{meta['loss_last']:.4g}" if meta.get("loss_last") is not None
                              else "-")
        table.append(entry)
    frame = pd.DataFrame(table)
    if "Wilcoxon p" in frame:  # one test per objective / size: corrected for their number
        raw = frame["Wilcoxon p"].astype(float)
        adjusted = holm(raw.to_numpy())
        frame["Wilcoxon p"] = raw.map(lambda v: f"{v:.3g}" if np.isfinite(v) else "-")
        frame.insert(frame.columns.get_loc("Wilcoxon p") + 1, "Holm p",
                     [f"{v:.3g}" if np.isfinite(v) else "-" for v in adjusted])
    return frame


def current_checkpoints(block: pd.DataFrame, runs: Path) -> pd.DataFrame:
    """Keep the rows of the encoders on disk now (sha256 of the row = sha256 of the file's json).

    Rows of an interrupted earlier run whose checkpoint was replaced or removed are dropped.
    """
    shas = {p: _pretrain_meta(p, runs).get("sha256") for p in set(block["checkpoint_path"])}
    keep = [bool(shas.get(p)) and str(c) == f"sha256:{shas[p]}"
            for p, c in zip(block["checkpoint_path"], block["checkpoint"], strict=True)]
    return block[np.array(keep, dtype=bool)]


def render_transfer(rows: pd.DataFrame, runs: Path, out: Path, kind: str,
                    reference: pd.DataFrame | None = None,
                    revision: str | None = None) -> list[str]:
    """Objective (``kind='objective'``) or scale (``'scale'``) study: one table per dataset."""
    sections = []
    root = runs / "objective_study"
    labels = {"objective": ("masked_patch", "next_patch", "masked_token", "signal_stats",
                            "contrastive"), "scale": ("tiny", "small", "base")}[kind]
    datasets = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for dataset in datasets:
        block = rows[(rows["model"] == "cbramod") & (rows["dataset"] == dataset)
                     & rows["label"].isin(labels) & rows["step"].notna()
                     & rows["checkpoint_path"].astype(str).str.contains(f"/{dataset}/")]
        block = current_checkpoints(block, runs)
        if not len(block):
            continue
        summary = summarise(block, ["label", "step", "adaptation"])
        summary["step"] = summary["step"].astype(int)
        name = f"{kind}_{dataset}"
        summary.to_csv(out / f"{name}.csv", index=False, float_format="%.4f")
        files = [f"{name}.csv"]
        if kind == "objective":
            files.append(f"{name}_probe_vs_steps.png")
            plot_steps(summary, out / files[-1], dataset)
        else:
            files.append(f"{name}_score_vs_parameters.png")
            plot_scale_reference(summary, reference, out / files[-1], dataset)
            files.append(f"{name}_score_vs_compute.png")
            plot_scale_compute(summary, out / files[-1], dataset)
        metas = {p: _pretrain_meta(p, runs) for p in set(block["checkpoint_path"])}
        corpora = {str(label): ", ".join(d["recipe"] for d in metas[path].get("datasets", []))
                   for label, path in zip(block["label"], block["checkpoint_path"],
                                          strict=True)}
        meta = metas[block["checkpoint_path"].iloc[0]]
        left_out = meta.get("datasets_left_out") or []
        folds = int(summary["folds"].max())  # a row with fewer folds says so in `folds`
        title = "pretraining objectives" if kind == "objective" else "encoder size"
        one_corpus = len(set(corpora.values())) == 1
        text = [md_heading(2, f"{dataset}: {title}"), "",
                f"Balanced accuracy (mean ± SD over {folds} leave-one-subject-out folds) of the "
                "frozen CBraMod encoder saved after N pretraining steps (step 0 = the random "
                "initialisation), per adaptation: the converged linear probe (C = 1, a priori) "
                "and, where run, fine-tuning under the fixed budget named in its heading. "
                "Wilcoxon: paired over folds, last step vs step 0 of the same encoder; Holm: "
                f"corrected for the {kind == 'objective' and 'objectives' or 'sizes'} of the "
                "table. Pretraining corpus (no target recording in it, sha256-audited): "
                + (next(iter(corpora.values())) if one_corpus else
                   "differs between rows (column `corpus`)")
                + (f"; left out for windows too short for next-patch prediction: "
                   f"{', '.join(left_out)}" if left_out else "") + ".", ""]
        for adaptation, part in block.groupby("adaptation"):
            frame = _transfer_table(part, summary[summary["adaptation"] == adaptation], runs,
                                    kind, labels)
            if not one_corpus:
                frame["corpus"] = frame.iloc[:, 0].map(corpora)
            heading = ("linear probe" if adaptation == "linear_probe" else
                       f"{adaptation} ({_patch_budget(part['budget'])})")
            text += [md_heading(3, heading), "", _markdown(frame), ""]
        text += ["Files: " + ", ".join(f"`{f}`" for f in files),
                 provenance(block, hydra_commands(runs, [f"+exp={kind}_study",
                                                         f"dataset={dataset}"]),
                            {"pretraining budget": f"batch {meta.get('batch_size')}, lr "
                             f"{meta.get('lr')}, seed {meta.get('seed')}, architecture "
                             f"{meta.get('arch_params')}" if kind == "objective" else
                             f"batch {meta.get('batch_size')}, lr {meta.get('lr')}, seed "
                             f"{meta.get('seed')}"}, step=f"study_{kind}"
                            if kind == "scale" else "study_objectives", revision=revision)]
        sections.append("\n".join(text))
    return sections


def _figure():
    """A new figure and axes of the studies' plots (non-interactive backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6.5, 4.2))


def _finish(fig, ax, path: Path, xlabel: str, ylabel: str, title: str) -> None:
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
    fig, ax = _figure()
    for (label, adaptation), block in summary.groupby(["label", "adaptation"]):
        block = block.sort_values("step")
        x = block["step"].to_numpy(float)
        ax.errorbar(x + 1, block["balanced_accuracy"],
                    yerr=block["balanced_accuracy_sd"] / np.sqrt(block["folds"]),
                    fmt="-o" if adaptation == "linear_probe" else "--s", ms=4, capsize=2,
                    label=f"{label} ({adaptation})" if several else str(label))
    _finish(fig, ax, path, "pretraining steps + 1 (1 = random initialisation)",
            "balanced accuracy (mean ± SEM over folds)" if several else
            "balanced accuracy (linear probe, mean ± SEM over folds)",
            f"{dataset}: score vs pretraining steps")


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


def plot_scale_reference(summary: pd.DataFrame, reference: pd.DataFrame | None, path: Path,
                         dataset: str) -> None:
    """Score vs encoder parameters (per step) beside the committed leaderboard's models."""
    fig, ax = _figure()
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
    _finish(fig, ax, path, "parameters (encoder; leaderboard models: whole model)",
            "balanced accuracy (mean over folds)", f"{dataset}: score vs parameters")


def plot_scale_compute(summary: pd.DataFrame, path: Path, dataset: str) -> None:
    """Score vs pretraining compute, one curve per encoder size through its saved steps.

    Compute is measured in parameter-steps (encoder parameters x pretraining steps): every size
    pretrains on the same pool with the same seed and batch, so its training FLOPs are about
    6 x parameters x tokens seen (Kaplan et al. 2020) with the same tokens for every size, and
    parameter-steps rank and scale them alike, independently of the machine's load (wall-clock
    seconds on a shared CPU do not). Step 0 (no pretraining) is drawn at the left edge.
    """
    fig, ax = _figure()
    compute = summary["n_parameters"].astype(float) * summary["step"].astype(float)
    floor = compute[compute > 0].min() / 3 if (compute > 0).any() else 1.0
    for label, block in summary.assign(compute=compute.clip(lower=floor)).groupby("label"):
        block = block.sort_values("step")
        ax.errorbar(block["compute"], block["balanced_accuracy"],
                    yerr=block["balanced_accuracy_sd"] / np.sqrt(block["folds"]),
                    fmt="-o", ms=4, capsize=2,
                    label=f"{label} ({int(block['n_parameters'].iloc[0]):,} parameters)")
    ax.axvline(floor, color="grey", lw=0.5, ls="--")
    _finish(fig, ax, path,
            "pretraining compute: parameters x steps (left line: step 0, no pretraining)",
            "balanced accuracy (linear probe, mean ± SEM over folds)",
            f"{dataset}: score vs pretraining compute")


def _patch_budget(budgets: pd.Series) -> str:
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
    summary["budget"] = [_patch_budget(groups[k]["budget"]) for k in
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
                          _wilcoxon(mine, ref_scores)))
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
            "balanced accuracy": [_fmt(m, s) for m, s in zip(part["balanced_accuracy"],
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
        text += [md_heading(3, f"{dataset}, {protocol}"), "", _markdown(frame), ""]
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
    metas = {p: _pretrain_meta(p, runs) for p in set(block["checkpoint_path"].dropna())}
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
            "balanced accuracy": _fmt(r["balanced_accuracy"], r["balanced_accuracy_sd"]),
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
            "information, not generalisation).", "", _markdown(frame), "",
            "Files: `meg_within_subject.csv`",
            provenance(block, hydra_commands(runs, ["dataset=meg_elekta_3ch"])
                       + hydra_commands(runs, ["+exp=pretrain_tokenizer"]), step="study_meg",
                       revision=revision)]
    return ["\n".join(text)]


def render(runs: Path, out: Path, reference: Path | None = None) -> dict[str, Path]:
    """Write every study found under ``runs`` to ``out``; return ``{study: markdown path}``.

    ``reference``: the committed leaderboard rows (``rows.jsonl``) drawn beside the scale
    study's encoders (read only).
    """
    out.mkdir(parents=True, exist_ok=True)
    rows = load_rows(runs)
    ref = reference_rows(reference, {(d, "loso") for d in rows["dataset"].unique()}
                         ) if reference else None
    written = {}
    revision = git_revision()  # before this rendering writes into the checkout
    for name, sections in (
            ("objectives", render_transfer(rows, runs, out, "objective", revision=revision)),
            ("scale", render_transfer(rows, runs, out, "scale", ref, revision=revision)),
            ("patch_embeddings", render_patch(rows, runs, out, revision=revision)),
            ("meg", render_meg(rows, runs, out, revision=revision))):
        if not sections:
            logger.warning("no rows of the %s study under %s", name, runs)
            continue
        path = out / f"{name}.md"
        path.write_text("<!-- generated by python -m eegbench.studies.report; do not edit -->\n\n"
                        + "\n\n".join(sections) + "\n")
        written[name] = path
        logger.info("wrote %s", path)
    return written


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m eegbench.studies.report --runs DIR --out DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/studies"))
    parser.add_argument("--out", type=Path, default=Path("leaderboard/studies"))
    parser.add_argument("--reference", type=Path, default=Path("leaderboard/rows.jsonl"),
                        help="committed leaderboard rows drawn beside the scale study")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    render(args.runs, args.out, args.reference)


if __name__ == "__main__":
    main()
