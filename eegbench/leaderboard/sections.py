"""Extra leaderboard sections: published figures on the same split, leakage audits, CD test.

Each function returns Markdown lines (empty when the results have nothing for it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eegbench.leaderboard.escape import md_table, md_text
from eegbench.leaderboard.published import matching
from eegbench.leaderboard.stats import (
    WILCOXON_DESCRIPTION,
    friedman_nemenyi,
    holm,
    one_sided_wilcoxon,
    paired_test,
    stouffer,
)
from eegbench.leaderboard.tables import (
    BLOCK_COLUMNS,
    CONFIG_LABEL_COLUMNS,
    per_subject_scores,
    prepare,
)

#: Protocol label suffix of a leaky audit variant: ``<protocol>~leaky:<variant>``.
LEAKY_MARK = "~leaky:"


def published_section(frame: pd.DataFrame, summary: pd.DataFrame) -> list[str]:
    """Our fixed-split rows beside the published figures of the same split."""
    lines = []
    fixed = summary[summary["protocol"] == "fixed_split"]
    for _, r in fixed.iterrows():
        rows = frame[(frame["dataset"] == r["dataset"]) & (frame["protocol"] == "fixed_split")
                     & (frame["config_hash"] == r["config_hash"])]
        for subjects in sorted(set(rows["test_subject"].astype(str))):
            for e in matching(str(r["dataset"]), "fixed_split", subjects, model=str(r["model"])):
                metric = e["metric"]
                ours = r.get(f"{metric}_mean", float("nan"))
                spread = f" ± {e['std']:.4f}" if e.get("std") is not None else ""
                checked = "yes" if e.get("checked") else "no (transcribed)"
                lines.append([r["dataset"], subjects, f"{r['model']} ({r['adaptation']})",
                              metric.replace("_", " "), f"{ours:.4f}", e["model"],
                              f"{e['value']:.4f}{spread}", e["source"], checked])
    if not lines:
        return []
    head = ["## Published figures on the same split", "",
            "Our rows of `protocol=fixed_split` beside published figures whose test subjects "
            "are the same (`eegbench/leaderboard/published.yaml`). Preprocessing, windows and "
            "training budgets differ between papers and this suite: compare with care.", ""]
    header = ["dataset", "test subjects", "ours", "metric", "ours (score)", "published model",
              "published", "source", "checked against source"]
    return head + md_table(header, lines) + [""]


def audit_table(frame: pd.DataFrame, metric_of: dict[str, str]) -> pd.DataFrame:
    """Pair each leaky audit variant with its clean protocol, per subject.

    Leaky rows have protocol ``<clean>~leaky:<variant>`` and record the clean configuration's
    hash in ``fit_report['clean_config_hash']``; a subject's score is averaged over seeds and
    folds first. Returns one row per (dataset, model, adaptation, clean protocol, variant) with
    ``clean``, ``leaky``, ``inflation`` (mean of leaky minus clean over subjects), ``n_subjects``
    and a paired Wilcoxon p-value (Holm-corrected over the table).
    """
    if frame.empty:
        return pd.DataFrame()
    protocol = frame["protocol"].astype(str)
    leaky = frame[protocol.str.contains(LEAKY_MARK, regex=False)]
    rows = []
    for (dataset, model, adaptation, proto), block in leaky.groupby(
            ["dataset", "model", "adaptation", "protocol"], sort=True):
        clean_protocol, variant = proto.split(LEAKY_MARK, 1)
        reports = [r for r in block["fit_report"] if isinstance(r, dict)]
        hashes = {r.get("clean_config_hash") for r in reports}
        clean_protocol = next((r["clean_protocol"] for r in reports if r.get("clean_protocol")),
                              clean_protocol)
        clean = frame[(frame["dataset"] == dataset) & (frame["model"] == model)
                      & (frame["adaptation"] == adaptation) & (protocol == clean_protocol)
                      & frame["config_hash"].isin(hashes)]
        metric = metric_of.get(str(dataset), "balanced_accuracy")
        column = f"metric.{metric}"
        a = block.groupby("test_subject")[column].mean()
        b = clean.groupby("test_subject")[column].mean()
        both = a.index.intersection(b.index)
        stat, p = paired_test(a[both].to_numpy(), b[both].to_numpy()) if len(both) else (
            np.nan, np.nan)
        rows.append({"dataset": dataset, "model": model, "adaptation": adaptation,
                     "protocol": clean_protocol, "variant": variant, "metric": metric,
                     "n_subjects": len(both), "clean": float(b[both].mean()),
                     "leaky": float(a[both].mean()),
                     "inflation": float((a[both] - b[both]).mean()), "p_value": p})
    table = pd.DataFrame(rows)
    if len(table):
        table["p_holm"] = holm(table["p_value"].to_numpy())
    return table


def _fmt_holm(p: float) -> str:
    return "n/a" if pd.isna(p) else f"{p:.3g}"


def audit_section(frame: pd.DataFrame, metric_of: dict[str, str]) -> list[str]:
    """Markdown for :func:`audit_table`."""
    table = audit_table(frame, metric_of)
    if table.empty:
        return []
    header = ["dataset", "model", "protocol", "leak", "metric", "subjects", "clean", "leaky",
              "inflation", "p (Holm)"]
    rows = ([r["dataset"], f"{r['model']} ({r['adaptation']})", r["protocol"], r["variant"],
             r["metric"].replace("_", " "), r["n_subjects"], f"{r['clean']:.3f}",
             f"{r['leaky']:.3f}", f"{r['inflation']:+.3f}", _fmt_holm(r["p_holm"])]
            for _, r in table.iterrows())
    return ["## Leakage audit: leaky minus clean", "",
            "Each leaky variant reuses the clean protocol with one leak added (see "
            "`conf/audit/leakage.yaml`); inflation = mean over subjects of leaky minus clean "
            "score, paired Wilcoxon test across subjects, Holm-corrected over this table.", "",
            *md_table(header, rows), ""]


def cd_inputs(summary: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """Per (protocol, shots): datasets x configurations of primary scores (complete only)."""
    out = {}
    if summary.empty or "primary_mean" not in summary:
        return out
    base = summary[~summary["protocol"].astype(str).str.contains("~", regex=False)
                   & ~summary["adaptation"].astype(str).str.startswith("layer_probe:")]
    for key, block in base.groupby(["protocol", "shots"], sort=True):
        columns = CONFIG_LABEL_COLUMNS + (["setting"] if "setting" in block else [])
        label = (block[columns].astype(str).agg(" / ".join, axis=1)
                 .str.replace(" / none", "").str.rstrip(" /"))
        table = (block.assign(config=label)
                 .pivot_table(index=["dataset", "task"], columns="config",
                              values="primary_mean", aggfunc="max"))
        table = table.dropna(axis=1, how="any")
        if table.shape[0] >= 2 and table.shape[1] >= 2:
            out[key] = table
    return out


def cd_section(summary: pd.DataFrame) -> list[str]:
    """Friedman test and mean ranks with the Nemenyi critical difference, per protocol."""
    lines = []
    for (protocol, shots), table in cd_inputs(summary).items():
        res = friedman_nemenyi(table)
        ranks = ", ".join(f"{c} {v:.2f}" for c, v in res["mean_ranks"].items())
        p = "n/a (< 3 configurations)" if np.isnan(res["friedman_p"]) \
            else f"{res['friedman_p']:.3g}"
        lines.append(md_text(f"- {protocol}" + (f" k={shots}" if shots else "")
                             + f": {res['n_datasets']} datasets, Friedman p = {p}, Nemenyi CD "
                             f"(0.05) = {res['cd']:.2f}; mean ranks: {ranks}"))
    if not lines:
        return []
    return ["## Critical difference across datasets", "",
            "Configurations present on every dataset of a protocol, ranked per dataset by its "
            "primary metric (Friedman test; Nemenyi critical difference, Demsar 2006). Two "
            "configurations whose mean ranks differ by less than CD are not significantly "
            "different. Few datasets give little power.", "", *lines, ""]


def _label(row: pd.Series) -> str:
    setting = f", {row['setting']}" if row.get("setting") else ""
    return f"{row['model']} ({row['adaptation']}{setting}; `{row['config_hash']}`)"


def _weights_of(row: pd.Series) -> str:
    """One row's weights: how they were pinned and their sha256 (``weights`` field)."""
    weights = row.get("weights")
    params = ((row.get("config") if isinstance(row.get("config"), dict) else {}).get(
        "model") or {}).get("params") or {}
    if not isinstance(weights, dict):
        return "random init" if params.get("init") == "random" else "not recorded"
    sha, commit = str(weights.get("sha256") or "?")[:12], str(weights.get("commit") or "?")[:7]
    where = f" `{weights['known']}`" if weights.get("known") else ""
    return {"sha256": f"content-pinned{where} (sha256 {sha})",
            "revision": f"revision-pinned{where} (commit {commit}, sha256 {sha})"}.get(
        weights.get("pinned_by"), f"UNPINNED{where} (commit {commit}, sha256 {sha})")


def weights_label(rows: pd.DataFrame) -> str:
    """How a configuration's rows got their pretrained weights (variants joined by a semicolon)."""
    if "weights" not in rows:
        return ""
    return "; ".join(sorted({_weights_of(r) for _, r in rows.iterrows()}))


def foundation_table(frame: pd.DataFrame, summary: pd.DataFrame,
                     metric_of: dict[str, str]) -> pd.DataFrame:
    """Each foundation-model configuration against the best specialist and best classical one.

    Like is compared with like: per table (dataset x task x protocol x shots) with foundation
    rows, the reference of a foundation configuration is the specialist (resp. classical)
    configuration with the highest mean primary metric among those that use the test
    subject's data the same way (``test_data``: inductive with inductive, transductive with
    transductive; none when the table has no such reference); each
    foundation configuration is compared with it on the subjects both were tested on (scores
    averaged over seeds first): mean difference and paired two-sided Wilcoxon signed-rank
    test, Holm-corrected over every comparison of the returned table.
    """
    if summary.empty or "family" not in summary or not (summary["family"] == "foundation").any():
        return pd.DataFrame()
    frames = dict(tuple(prepare(frame).groupby(BLOCK_COLUMNS, sort=False)))
    rows = []
    for key, block in summary.groupby(BLOCK_COLUMNS, sort=True):
        metric = metric_of.get(str(key[0]), "balanced_accuracy")
        scores = per_subject_scores(frames[key], metric)
        by_config = {cfg: cell.set_index("test_subject")[metric]
                     for cfg, cell in scores.groupby("config_hash")}
        weights = {cfg: weights_label(cell)
                   for cfg, cell in frames[key].groupby("config_hash", sort=False)}
        uses = block["test_data"] if "test_data" in block else pd.Series("none", block.index)
        for family in ("specialist", "classical"):
            for _, fm in block[block["family"] == "foundation"].iterrows():
                use = str(uses.loc[fm.name])
                refs = block[(block["family"] == family) & (uses == use)]
                if refs.empty:  # no reference that uses the test data the same way
                    continue
                ref = refs.sort_values("primary_mean", ascending=False, kind="stable").iloc[0]
                b = by_config.get(ref["config_hash"], pd.Series(dtype=float))
                a = by_config.get(fm["config_hash"], pd.Series(dtype=float))
                both = a.index.intersection(b.index)
                _, p = (paired_test(a[both].to_numpy(), b[both].to_numpy()) if len(both) > 1
                        else (np.nan, np.nan))
                rows.append({**dict(zip(BLOCK_COLUMNS, key, strict=True)), "metric": metric,
                             "test_data": use, "foundation": _label(fm),
                             "foundation_config": fm["config_hash"],
                             "reference_family": family, "reference": _label(ref),
                             "reference_config": ref["config_hash"],
                             "n_subjects": len(both),
                             "foundation_score": float(a[both].mean()) if len(both) else np.nan,
                             "reference_score": float(b[both].mean()) if len(both) else np.nan,
                             "difference": float((a[both] - b[both]).mean()) if len(both)
                             else np.nan, "p_value": p,
                             "weights": weights.get(fm["config_hash"], "")})
    table = pd.DataFrame(rows)
    if len(table):
        table["p_holm"] = holm(table["p_value"].to_numpy())
    return table


def foundation_section(frame: pd.DataFrame, summary: pd.DataFrame,
                       metric_of: dict[str, str]) -> list[str]:
    """Markdown for :func:`foundation_table`."""
    table = foundation_table(frame, summary, metric_of)
    if table.empty:
        return []
    # the weights column appears once rows record their weights (older rows do not)
    show_weights = bool(frame.get("weights", pd.Series(dtype=object)).map(
        lambda w: isinstance(w, dict)).any())
    header = ["table", "uses test data", "foundation model",
              *(["weights"] if show_weights else []), "vs",
              "reference", "subjects", "foundation", "reference", "difference", "p (Holm)"]
    rows = ([f"{r['dataset']} / {r['protocol']}" + (f" / k = {r['shots']}" if r["shots"]
                                                      else ""), r["test_data"],
             r["foundation"], *([r["weights"]] if show_weights else []),
             f"best {r['reference_family']}", r["reference"], r["n_subjects"],
             f"{r['foundation_score']:.3f}", f"{r['reference_score']:.3f}",
             f"{r['difference']:+.3f}", _fmt_holm(r["p_holm"])]
            for _, r in table.iterrows())
    return ["## Foundation models against the best specialist and the best classical pipeline",
            "", "Reference = the specialist (resp. classical) configuration of the same table "
            "with the highest mean primary metric among those that use the test subject's "
            "data the same way ('uses test data': inductive rows against inductive "
            "references, transductive against transductive). Difference = mean over the "
            "subjects both were tested on of foundation minus reference; paired two-sided "
            f"Wilcoxon signed-rank test across subjects ({WILCOXON_DESCRIPTION}), "
            "Holm-corrected over all comparisons below. "
            "Budgets differ between rows (see the `budget` column above)."
            + (" Weights: content-pinned = the checkpoint's sha256 was known in advance and "
               "verified byte for byte; revision-pinned = downloaded at a fixed commit; "
               "UNPINNED = whatever the branch held that day (allow_unpinned)."
               if show_weights else ""), "",
            *md_table(header, rows), ""]


def extra_sections(frame: pd.DataFrame, summary: pd.DataFrame,
                   metric_of: dict[str, str]) -> list[str]:
    """All extra sections, in order."""
    return (foundation_section(frame, summary, metric_of) + published_section(frame, summary)
            + audit_section(frame, metric_of) + across_datasets_section(frame, summary, metric_of)
            + cd_section(summary))


def across_datasets_table(frame: pd.DataFrame, summary: pd.DataFrame,
                          metric_of: dict[str, str]) -> pd.DataFrame:
    """Every pair of configurations evaluated on the same >= 2 datasets, combined over them.

    Per protocol (leaky audit variants and layer probes left out) and per pair of
    configurations (a configuration across datasets is its ``config_key``,
    :func:`eegbench.leaderboard.ranks.configuration_keys`) that use the test subject's data
    the same way: on each dataset both were tested on, a one-sided paired Wilcoxon test
    across subjects in each direction; the per-dataset p-values are combined by Stouffer's
    method weighted by sqrt(subjects), as MOABB's meta-analysis does
    (:func:`eegbench.leaderboard.stats.stouffer`). ``p_value`` = two-sided combined p (twice
    the smaller direction, at most 1), Holm-corrected over the returned table (``p_holm``).
    """
    from eegbench.leaderboard.ranks import configuration_keys, configuration_labels

    if summary.empty or "test_data" not in summary:
        return pd.DataFrame()
    base = summary[~summary["protocol"].astype(str).str.contains("~", regex=False)
                   & ~summary["adaptation"].astype(str).str.startswith("layer_probe:")
                   & (summary["shots"] == 0)]
    if base["dataset"].nunique() < 2:
        return pd.DataFrame()
    prepared = prepare(frame)
    keys, labels = configuration_keys(prepared), configuration_labels(prepared)
    base = base.assign(config_key=base["config_hash"].astype(str).map(keys),
                       dataset_task=list(zip(base["dataset"], base["task"], strict=True)))
    scores = {}
    for (dataset, task, protocol), block in prepared.groupby(["dataset", "task", "protocol"]):
        metric = metric_of.get(str(dataset), "balanced_accuracy")
        for cfg, cell in per_subject_scores(block, metric).groupby("config_hash"):
            scores[(dataset, task, protocol, keys[str(cfg)])] = cell.set_index(
                "test_subject")[metric]
    rows = []
    for protocol, block in base.groupby("protocol", sort=True):
        configs = (block.groupby("config_key", sort=True)
                   .agg(model=("model", "first"), adaptation=("adaptation", "first"),
                        test_data=("test_data", "first"),
                        datasets=("dataset_task", frozenset)))
        names = list(configs.index)
        for i, a_key in enumerate(names):
            for b_key in names[i + 1:]:
                a, b = configs.loc[a_key], configs.loc[b_key]
                shared = sorted(a["datasets"] & b["datasets"])
                if a["test_data"] != b["test_data"] or len(shared) < 2:
                    continue
                p_ab, p_ba, n_sub, diffs = [], [], [], []
                for dataset, task in shared:
                    x = scores[(dataset, task, protocol, a_key)]
                    y = scores[(dataset, task, protocol, b_key)]
                    both = x.index.intersection(y.index)
                    p_ab.append(one_sided_wilcoxon(x[both].to_numpy(), y[both].to_numpy()))
                    p_ba.append(one_sided_wilcoxon(y[both].to_numpy(), x[both].to_numpy()))
                    n_sub.append(len(both))
                    diffs.append(float((x[both] - y[both]).mean()))
                greater, less = stouffer(p_ab, n_sub), stouffer(p_ba, n_sub)
                rows.append({"protocol": protocol, "test_data": a["test_data"],
                             "a": _config_name(a, labels.get(a_key, "")),
                             "b": _config_name(b, labels.get(b_key, "")),
                             "datasets": ", ".join(f"{d} ({n})" for (d, _), n
                                                   in zip(shared, n_sub, strict=True)),
                             "n_datasets": len(shared), "mean_difference": float(np.mean(diffs)),
                             "p_a_greater": greater, "p_b_greater": less,
                             "p_value": min(1.0, 2 * min(greater, less))})
    table = pd.DataFrame(rows)
    if len(table):
        table["p_holm"] = holm(table["p_value"].to_numpy())
    return table


def _config_name(config: pd.Series, setting: str) -> str:
    return f"{config['model']} ({config['adaptation']}{', ' + setting if setting else ''})"


def across_datasets_section(frame: pd.DataFrame, summary: pd.DataFrame,
                            metric_of: dict[str, str]) -> list[str]:
    """Markdown for :func:`across_datasets_table`."""
    table = across_datasets_table(frame, summary, metric_of)
    if table.empty:
        return []
    header = ["protocol", "uses test data", "A", "B", "datasets (subjects)",
              "mean Δ (A − B)", "Stouffer p (A > B)", "Stouffer p (B > A)", "p (two-sided, Holm)"]
    rows = ([r["protocol"], r["test_data"], r["a"], r["b"], r["datasets"],
             f"{r['mean_difference']:+.3f}", _fmt_holm(r["p_a_greater"]),
             _fmt_holm(r["p_b_greater"]), _fmt_holm(r["p_holm"])]
            for _, r in table.iterrows())
    return ["## Pairs of configurations across datasets (Stouffer)", "",
            md_text("Each pair of configurations tested on the same two or more datasets "
                    "(and using the test subject's data the same way): on each dataset a "
                    "one-sided paired Wilcoxon signed-rank test across subjects of its primary "
                    f"metric in each direction ({WILCOXON_DESCRIPTION}); the per-dataset "
                    "p-values are combined by Stouffer's method weighted by sqrt(subjects), as "
                    "MOABB's meta-analysis does. Mean Δ = unweighted mean over datasets of the "
                    "mean paired difference. Two-sided p = twice the smaller direction, "
                    "Holm-corrected over this table."), "",
            *md_table(header, rows), ""]
