"""Render the studies of a runs directory into ``leaderboard/studies/`` (tables, plots, provenance).

``python -m eegbench.studies.report --runs runs/studies --out leaderboard/studies`` reads what
the plan's study steps (``python -m eegbench.leaderboard plan studies``) left in their own
runs directory (a results store that is never the leaderboard's, the pretrained encoders'
``.json`` metadata, Hydra's override files) and writes, per study, a CSV, a Markdown table
with a provenance block (git revisions of the rows and of this rendering, the exact
command-line overrides, seeds, data fingerprints, pretraining budgets) and the plots. Nothing
here trains or evaluates a model. The rows and provenance are read by
:mod:`eegbench.studies.report_data`, the plots drawn by :mod:`eegbench.studies.report_plots`,
the encoder comparisons tabulated by :mod:`eegbench.studies.report_encoders`; this module
renders the pretraining studies (objectives, scale) and writes the files.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from eegbench.leaderboard.escape import md_heading
from eegbench.leaderboard.stats import holm
from eegbench.results.provenance import git_revision
from eegbench.studies.report_data import (
    format_mean_sd,
    hydra_commands,
    load_rows,
    markdown_table,
    paired_wilcoxon,
    pretrain_meta,
    provenance,
    reference_rows,
    summarise,
)
from eegbench.studies.report_encoders import budget_cell, render_meg, render_patch
from eegbench.studies.report_plots import plot_scale_compute, plot_scale_reference, plot_steps

logger = logging.getLogger(__name__)


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
            entry[f"step {step}"] = (format_mean_sd(s.loc[step, "balanced_accuracy"],
                                          s.loc[step, "balanced_accuracy_sd"])
                                     if step in s.index else "-")
        entry["folds"] = "/".join(str(int(s.loc[st, "folds"])) for st in steps
                                  if st in s.index)
        last = max(st for st in steps if st in s.index)
        if 0 in s.index and last > 0:
            gain = s.loc[last, "balanced_accuracy"] - s.loc[0, "balanced_accuracy"]
            p_value = paired_wilcoxon(per_fold.loc[(label, last)], per_fold.loc[(label, 0)])
            entry["Δ (last - 0)"] = f"{gain:+.3f}"
            entry["Wilcoxon p"] = p_value
        chosen = block[(block["label"] == label) & (block["step"] == last)]
        meta = pretrain_meta(chosen["checkpoint_path"].iloc[0], runs)
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
    shas = {p: pretrain_meta(p, runs).get("sha256") for p in set(block["checkpoint_path"])}
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
        metas = {p: pretrain_meta(p, runs) for p in set(block["checkpoint_path"])}
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
                       f"{adaptation} ({budget_cell(part['budget'])})")
            text += [md_heading(3, heading), "", markdown_table(frame), ""]
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
