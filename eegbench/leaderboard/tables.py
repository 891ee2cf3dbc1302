"""Summary tables: mean +- std over test subjects per table x configuration, with statistics.

A *table* (block) is one dataset x task x protocol x shots; a *configuration* is one model x
family x adaptation x calibration x config hash. Scores are averaged per subject over seeds
and few-shot draws first: the subject is the unit of the statistics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from eegbench.data.recipe import recipe_primary_metric
from eegbench.leaderboard.chance import (
    CHANCE_ALPHA,
    WINDOW_PERMUTATIONS,
    chance_columns,
    format_p_chance,
)
from eegbench.leaderboard.escape import md_heading, md_table, md_text
from eegbench.leaderboard.stats import (
    bootstrap_ci,
    compare_with_best,
    format_p,
    smallest_wilcoxon_p,
)
from eegbench.results.test_data import TEST_DATA_USES, test_data_use

BLOCK_COLUMNS = ["dataset", "task", "protocol", "shots"]
CONFIG_COLUMNS = ["model", "family", "adaptation", "calibration", "config_hash"]
GROUP_COLUMNS = BLOCK_COLUMNS + CONFIG_COLUMNS
#: Groups within which configurations are ranked and tested against the best: a table's
#: inductive rows apart from those that used the test subject's data (``test_data``).
TEST_BLOCK_COLUMNS = BLOCK_COLUMNS + ["test_data"]
#: What a configuration is called across datasets (the config hash includes the dataset).
CONFIG_LABEL_COLUMNS = ["model", "family", "adaptation", "calibration"]
DEFAULT_METRICS = ("balanced_accuracy", "roc_auc", "cohen_kappa", "f1_weighted")
def is_regression(frame: pd.DataFrame) -> pd.Series:
    """Which rows of a results frame are regression rows (``target`` set).

    The tables of this module are classification tables and leave these rows out; they are
    summarised by :mod:`eegbench.leaderboard.regression`.
    """
    if "target" not in frame:
        return pd.Series(False, index=frame.index)
    return frame["target"].map(lambda t: isinstance(t, dict))


def primary_metrics(frame: pd.DataFrame) -> dict[str, str]:
    """Map each dataset of a results frame to the primary metric of its recipe."""
    out = {}
    for dataset, block in frame.groupby("dataset", sort=True):
        recipe, task = dataset, None
        configs = [c for c in block.get("config", []) if isinstance(c, dict)]
        if configs and isinstance(configs[0].get("dataset"), dict):
            recipe = configs[0]["dataset"].get("recipe", dataset)
            task = configs[0]["dataset"].get("task")
        out[str(dataset)] = recipe_primary_metric(str(recipe), None if task is None
                                                  else str(task))
    return out


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalise a results frame: ``shots`` 0 and ``calibration`` "none" where not few-shot.

    Rows of schema version 1 (no few-shot fields) are accepted.
    """
    frame = frame.copy()
    for column, default in (("shots", 0), ("calibration", "none"), ("draw", 0)):
        if column not in frame:
            frame[column] = default
    frame["shots"] = pd.to_numeric(frame["shots"], errors="coerce").fillna(0).astype(int)
    frame["draw"] = pd.to_numeric(frame["draw"], errors="coerce").fillna(0).astype(int)
    frame["calibration"] = frame["calibration"].fillna("none").astype(str)
    for column in ("adaptation", "family", "model", "config_hash", "test_subject"):
        frame[column] = frame[column].astype(str)
    if "code_fingerprint" in frame:
        frame["model"] = [mark_third_party(m, fp) for m, fp in
                          zip(frame["model"], frame["code_fingerprint"], strict=True)]
    return frame


def mark_third_party(model: str, code_fingerprint: Any) -> str:
    """Return ``model``, marked with its distribution and version when it is not eegbench's.

    ``code_fingerprint`` is ``"<distribution> <version> src:<hash>"`` (schema-4 rows); rows
    without one (older schemas) are left as they are.
    """
    if not isinstance(code_fingerprint, str) or not code_fingerprint.strip():
        return model
    dist, _, rest = code_fingerprint.partition(" ")
    label = f" [third-party: {dist} {rest.split(' src:')[0]}]"
    if dist == "eegbench" or model.endswith(label):  # marked once, however often prepared
        return model
    return f"{model}{label}"


def flatten_config(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as dotted keys (``{"model": {"name": x}}`` -> ``{"model.name": x}``)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_config(value, f"{name}."))
        else:
            flat[name] = value
    return flat


#: Config keys never shown in the ``setting`` label: the table has a column for them.
SETTING_HIDDEN_KEYS = ("model.adaptation",)
#: Keys shown only when a label would otherwise not tell two configurations apart (they change
#: where a model runs, not what it computes).
SETTING_EXECUTION_KEYS = ("trainer.device", "trainer.num_threads")


def _setting_value(value: Any) -> str:
    """Display value of a setting: file paths by their file name (no local folders)."""
    if isinstance(value, str) and ("/" in value or "\\" in value):
        return value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return str(value)


def setting_label(flat: dict[str, Any], keys: list[str]) -> str:
    """``key=value`` pairs of ``keys`` (``model.params.`` dropped, paths by file name)."""
    return ", ".join(f"{k.removeprefix('model.params.')}={_setting_value(flat.get(k))}"
                     for k in keys)


#: Config sections a family never reads: a covariance pipeline is fitted by scikit-learn, so
#: the trainer section (epochs, patience) does not change what it computes.
UNUSED_SECTIONS = {"classical": ("trainer.",)}


def _unused_keys(block: pd.DataFrame) -> tuple[str, ...]:
    """Key prefixes that ``block``'s model family never reads (:data:`UNUSED_SECTIONS`)."""
    families = set(block["family"].astype(str)) if "family" in block else set()
    return UNUSED_SECTIONS.get(families.pop(), ()) if len(families) == 1 else ()


def config_settings(frame: pd.DataFrame) -> dict[str, str]:
    """Label each config hash by the settings that tell it apart from the same model's others.

    Within each dataset/task/protocol, configurations of one model and adaptation (e.g.
    EEGNet with two trainer budgets) get the ``key=value`` pairs in which their stored configs
    differ
    (``model.params.`` dropped from keys, file paths shown by file name, the adaptation,
    execution-only keys and sections the family never reads (:data:`UNUSED_SECTIONS`) left
    out unless needed to tell configurations apart); a model with a
    single configuration, or rows without a stored config (schema < 3), get no label.
    """
    if "config" not in frame:
        return {}
    rows = frame[frame["config"].map(lambda c: isinstance(c, dict))]
    labels: dict[str, str] = {}
    for _, block in rows.groupby(["dataset", "task", "protocol", "model", "adaptation"],
                                 sort=False):
        configs = block.groupby("config_hash")["config"].first()
        flat = {h: flatten_config(c) for h, c in configs.items()}
        if len(flat) < 2:
            continue
        keys = sorted({k for f in flat.values() for k in f} - set(SETTING_HIDDEN_KEYS))
        varying = [k for k in keys if len({repr(f.get(k)) for f in flat.values()}) > 1]
        unused = _unused_keys(block)
        shown = [k for k in varying if k not in SETTING_EXECUTION_KEYS
                 and not k.startswith(unused)]
        candidate = {h: setting_label(f, shown) for h, f in flat.items()}
        if len(set(candidate.values())) < len(candidate):  # execution keys tell them apart
            candidate = {h: setting_label(f, varying) for h, f in flat.items()}
        labels.update(candidate)
    return labels


def test_data_uses(frame: pd.DataFrame) -> dict[str, str]:
    """Map each config hash to how its rows used the test subject's data (``test_data``).

    :func:`eegbench.results.test_data.test_data_use` of the configuration's stored config
    (the config hash covers the protocol options, so one value per configuration).
    """
    if "config" not in frame:
        return dict.fromkeys(frame["config_hash"].astype(str), "none")
    first = frame.assign(config_hash=frame["config_hash"].astype(str)).groupby(
        "config_hash")["config"].first()
    return {h: test_data_use({"config": c}) for h, c in first.items()}


def per_subject_table(frame: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Per-subject scores (averaged over seeds and draws) of every metric in ``metrics``.

    One row per table x configuration x subject; the input of every subject-level test the
    tables show, written at full precision to ``<name>_per_subject.csv``.
    """
    frame = frame[~is_regression(frame)]  # regression rows: eegbench.leaderboard.regression
    out = None
    for metric in dict.fromkeys(metrics):
        if f"metric.{metric}" not in frame:
            continue
        subj = per_subject_scores(frame, metric)
        out = subj if out is None else out.merge(subj, on=GROUP_COLUMNS + ["test_subject"],
                                                 how="outer")
    if out is None:
        return pd.DataFrame(columns=GROUP_COLUMNS + ["test_subject"])
    uses = test_data_uses(frame)
    out.insert(len(GROUP_COLUMNS), "test_data", out["config_hash"].map(uses))
    return out.sort_values(GROUP_COLUMNS + ["test_subject"], kind="stable").reset_index(
        drop=True)


def per_subject_scores(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Average each subject's score over seeds and draws (the unit of the statistics)."""
    column = f"metric.{metric}"
    if column not in frame:
        raise KeyError(f"metric {metric!r} not in the results; available: "
                       f"{sorted(c[7:] for c in frame if c.startswith('metric.'))}")
    return (frame.groupby(GROUP_COLUMNS + ["test_subject"], dropna=False)[column]
            .mean().rename(metric).reset_index())


def summarize(frame: pd.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS,
              test: str = "wilcoxon", alpha: float = 0.05,
              primary: str | None = None) -> pd.DataFrame:
    """Return one row per table x configuration with scores, tests and intervals.

    Parameters
    ----------
    frame : DataFrame
        Flat results (:meth:`eegbench.results.ResultStore.to_frame`); regression rows
        (:func:`is_regression`) are left out.
    metrics : sequence of str
        Metrics to summarise (mean ± std over subjects).
    test : {"wilcoxon", "permutation"}
        Paired test across subjects (:func:`eegbench.leaderboard.stats.paired_test`).
    alpha : float
        Level of the ``significant`` flag (Holm-adjusted).
    primary : str, optional
        Metric that ranks configurations and is tested, for every table. None (default): each
        dataset's recipe ``primary_metric`` (ROC AUC for binary ERP, else balanced accuracy).

    Returns
    -------
    DataFrame
        Group columns, ``n_subjects``, ``n_seeds``, ``n_draws``, ``n_rows``, ``n_parameters``,
        ``train_seconds``, ``inference_seconds`` (means per fold), ``peak_rss_mb`` (max),
        ``<metric>_mean`` / ``<metric>_std`` (over subjects), ``primary_metric``,
        ``primary_mean``, ``primary_std``, ``primary_ci_low`` / ``primary_ci_high``
        (95 % percentile bootstrap over subjects), the chance columns of
        :func:`chance_columns`, ``test_data`` (:func:`test_data_uses`), and for the primary
        metric, within the rows of the table that use the test data the same way (inductive
        rows first), ``rank``, ``n_pairs``,
        ``diff_vs_best``, ``p_value``, ``p_holm``, ``significant``.
    """
    frame = frame[~is_regression(frame)]  # regression rows: eegbench.leaderboard.regression
    if frame.empty:
        return pd.DataFrame()
    frame = prepare(frame)
    by_dataset = (primary_metrics(frame) if primary is None
                  else dict.fromkeys(frame["dataset"].astype(str).unique(), primary))
    metrics = list(metrics) + sorted(set(by_dataset.values()) - set(metrics))
    grouped = frame.groupby(GROUP_COLUMNS, dropna=False)
    out = grouped.agg(n_subjects=("test_subject", "nunique"), n_seeds=("seed", "nunique"),
                      n_draws=("draw", "nunique"), n_rows=("seed", "size"),
                      n_parameters=("n_parameters", "median"),
                      train_seconds=("train_seconds", "mean"),
                      inference_seconds=("inference_seconds", "mean"),
                      peak_rss_mb=("peak_rss_mb", "max")).reset_index()
    for metric in metrics:
        subj = per_subject_scores(frame, metric)
        agg = (subj.groupby(GROUP_COLUMNS, dropna=False)[metric]
               .agg(["mean", "std"]).rename(columns=lambda c, m=metric: f"{m}_{c}")
               .reset_index())
        out = out.merge(agg, on=GROUP_COLUMNS, how="left")
    out["setting"] = out["config_hash"].map(config_settings(frame)).fillna("")
    uses = test_data_uses(frame)
    out["test_data"] = out["config_hash"].map(uses)
    out = out.merge(adaptation_columns(frame), on=GROUP_COLUMNS, how="left")
    if "roc_auc_mean" in out:  # efficiency E_param = AUC / log10(params)
        out["e_param"] = out["roc_auc_mean"] / np.log10(out["n_parameters"].clip(lower=10))
    out["primary_metric"] = out["dataset"].astype(str).map(by_dataset)
    out["primary_mean"] = [r[f"{r['primary_metric']}_mean"] for _, r in out.iterrows()]
    out["primary_std"] = [r[f"{r['primary_metric']}_std"] for _, r in out.iterrows()]
    tests, cis = [], []
    for metric in sorted(set(by_dataset.values())):
        sub = frame[frame["dataset"].astype(str).map(by_dataset) == metric]
        subj = per_subject_scores(sub, metric)
        subj["test_data"] = subj["config_hash"].map(uses)
        tests.append(compare_with_best(subj, TEST_BLOCK_COLUMNS, CONFIG_COLUMNS, metric,
                                       method=test, alpha=alpha).drop(columns=["test_data"]))
        for key, cell in subj.groupby(GROUP_COLUMNS, dropna=False, sort=True):
            low, high = bootstrap_ci(cell[metric].to_numpy())
            cis.append({**dict(zip(GROUP_COLUMNS, key, strict=True)), "primary_ci_low": low,
                        "primary_ci_high": high})
    tests = pd.concat(tests, ignore_index=True).drop(columns=["mean"])
    out = out.merge(tests, on=GROUP_COLUMNS, how="left")
    out = out.merge(pd.DataFrame(cis), on=GROUP_COLUMNS, how="left")
    out = out.merge(chance_columns(frame, by_dataset, GROUP_COLUMNS), on=GROUP_COLUMNS, how="left")
    out["rank"] = (out.groupby(TEST_BLOCK_COLUMNS)["primary_mean"]
                   .rank(ascending=False, method="min").astype(int))
    out["_inductive_first"] = out["test_data"].map(
        lambda u: TEST_DATA_USES.index(u) if u in TEST_DATA_USES else len(TEST_DATA_USES))
    out = out.sort_values(BLOCK_COLUMNS + ["_inductive_first", "rank"] + CONFIG_COLUMNS,
                          kind="stable").drop(columns="_inductive_first").reset_index(drop=True)
    first = ["dataset", "task", "protocol", "model", "family", "adaptation", "calibration",
             "shots", "config_hash", "rank"]
    return out[first + [c for c in out.columns if c not in first]]


def _budget_label(budget: Any) -> str:
    """Short label of a row's optimisation budget (schema-4 ``budget``)."""
    if not isinstance(budget, dict):
        return ""
    if budget.get("kind") in ("linear_probe", "layer_probe"):
        return "probe (converged)" if budget.get("converged") else "probe (NOT converged)"
    if budget.get("kind") == "sklearn":
        return "sklearn fit"
    if budget.get("max_epochs") is None:
        return ""
    prefix = "LP + " if budget.get("kind") == "lp_ft" else ""
    return f"{prefix}{budget['max_epochs']} ep, {budget.get('schedule', 'constant')}"


def _loss_fell(report: Any) -> float:
    """Return 1.0 if a fold's training loss fell from its first to its last epoch, else 0.0.

    NaN when the fit report has no epoch losses (probes, classical pipelines).
    """
    if not isinstance(report, dict):
        return np.nan
    first, last = report.get("train_loss_first"), report.get("train_loss_last")
    if first is None or last is None:
        return np.nan
    return float(last < first)


def adaptation_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``collapsed_folds``, ``budget``, ``n_trainable`` and ``loss_fell`` per config.

    ``collapsed_folds`` counts folds whose model predicts one class (NaN for rows that predate
    collapse detection); ``budget`` lists the distinct budgets of the configuration's rows;
    ``n_trainable`` is the median number of parameters the adaptation trained (NaN where not
    recorded: classical pipelines); ``loss_fell`` reads ``"k/n"``: in k of the n folds that
    record epoch losses, the last epoch's training loss is below the first's.
    """
    frame = frame.copy()
    trainable = frame["n_trainable"] if "n_trainable" in frame else pd.Series(None, frame.index)
    frame["_trainable"] = pd.to_numeric(trainable, errors="coerce")
    reports = frame["fit_report"] if "fit_report" in frame else pd.Series(None, frame.index)
    frame["_loss_fell"] = reports.map(_loss_fell)
    collapsed = frame["collapsed"] if "collapsed" in frame else pd.Series(None, frame.index)
    frame["_collapsed"] = pd.to_numeric(collapsed.map(
        lambda v: float(v) if isinstance(v, bool | np.bool_) else np.nan), errors="coerce")
    budgets = frame["budget"] if "budget" in frame else pd.Series(None, frame.index)
    frame["_budget"] = budgets.map(_budget_label)
    grouped = frame.groupby(GROUP_COLUMNS, dropna=False)
    return grouped.agg(collapsed_folds=("_collapsed", lambda v: v.sum(min_count=1)),
                       budget=("_budget", lambda v: " | ".join(sorted(set(v) - {""}))),
                       n_trainable=("_trainable", "median"),
                       loss_fell=("_loss_fell", lambda v: (
                           f"{int(v.sum())}/{int(v.notna().sum())}" if v.notna().any()
                           else "n/a"))).reset_index()


def _fmt_trainable(row: pd.Series) -> str:
    """``n (x.xx %)`` of the model's parameters the adaptation trained, or n/a."""
    n, total = row.get("n_trainable"), row.get("n_parameters")
    if n is None or pd.isna(n):
        return "n/a"
    share = f" ({100 * n / total:.2f}%)" if total and not pd.isna(total) and total > 0 else ""
    return f"{int(n):,}{share}"


def _fmt(mean: float, std: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "n/a"
    return f"{mean:.3f} ± {0.0 if std is None or np.isnan(std) else std:.3f}"


def _fmt_ci(row: pd.Series) -> str:
    low, high = row.get("primary_ci_low"), row.get("primary_ci_high")
    if low is None or pd.isna(low):
        return "n/a"
    return f"{str(row['primary_metric']).replace('_', ' ')} [{low:.3f}, {high:.3f}]"


def _fmt_chance(row: pd.Series) -> str:
    exact = row.get("p_chance_exact")
    return format_p_chance(row.get("p_chance"), row.get("above_chance"),
                           row.get("p_chance_floor"), bool(exact) if not pd.isna(exact)
                           else False)


def _fmt_chance_windows(row: pd.Series) -> str:
    """The window-level (fixed-effects) test: no flag, "< 0.001" at its permutation floor."""
    return format_p(row.get("p_chance_windows"), 1.0 / (WINDOW_PERMUTATIONS + 1))


def _fmt_p(row: pd.Series) -> str:
    if row.get("is_best") is True or row.get("is_best") == 1:
        return "best"
    p = row.get("p_holm")
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    return f"{p:.3g}{' *' if row.get('significant') else ''}"


def block_title(dataset: str, task: str, protocol: str, shots: int) -> str:
    """Human title of one table."""
    title = f"{dataset} / {task} / {protocol}"
    return title + (f" / k = {shots} per class" if shots else "")


def table_rows(block: pd.DataFrame, metrics: Sequence[str]) -> tuple[list[str], list[list[str]]]:
    """Return the header and the formatted cells of one table (shared by Markdown and HTML)."""
    few_shot = (block["calibration"] != "none").any()
    with_setting = "setting" in block and (block["setting"] != "").any()
    header = ["rank", "model", "family", "adaptation"] + (["setting"] if with_setting else [])
    header += ["uses test data"]
    header += ["calibration"] if few_shot else []
    header += ["subjects", "seeds"] + (["draws"] if few_shot else []) + ["params", "trainable"]
    header += [m.replace("_", " ") for m in metrics]
    header += ["primary: 95% CI", "p vs chance (subjects)",
               "p vs chance (windows, fixed effects)", "E_param", "Δ vs best", "p (Holm)",
               "collapsed folds", "budget", "train loss fell",
               "train s/fold", "config"]
    rows = []
    for _, r in block.iterrows():
        cells = [str(r["rank"]), r["model"], r["family"], r["adaptation"]]
        cells += [r["setting"]] if with_setting else []
        cells += [r.get("test_data") or "none"]
        cells += [r["calibration"]] if few_shot else []
        cells += [str(r["n_subjects"]), str(r["n_seeds"])]
        cells += [str(r["n_draws"])] if few_shot else []
        cells += [f"{int(r['n_parameters']):,}", _fmt_trainable(r)]
        cells += [_fmt(r[f"{m}_mean"], r[f"{m}_std"]) for m in metrics]
        cells += [_fmt_ci(r), _fmt_chance(r), _fmt_chance_windows(r)]
        e_param = r.get("e_param", float("nan"))
        cells += ["n/a" if pd.isna(e_param) else f"{e_param:.3f}"]
        diff = r.get("diff_vs_best")
        cells += ["—" if r.get("is_best") else
                  ("n/a" if diff is None or np.isnan(diff) else f"{diff:+.3f}")]
        collapsed = r.get("collapsed_folds")
        cells += [_fmt_p(r), "n/a" if collapsed is None or pd.isna(collapsed)
                  else str(int(collapsed)), r.get("budget") or "n/a",
                  r.get("loss_fell") or "n/a"]
        cells += [f"{r['train_seconds']:.1f}", f"`{r['config_hash']}`"]
        rows.append(cells)
    return header, rows


def block_caption(block: pd.DataFrame, metrics: Sequence[str]) -> str:
    """The caption of one table: its test metric and what its number of subjects allows.

    With ``n`` subjects the smallest two-sided exact Wilcoxon p is 2 / 2**n and the smallest
    one-sided exact sign-flip p is 1 / 2**n; a table where these reach 0.05 says that it
    cannot show a significant difference (resp. a subject-level result above chance).
    """
    primary = (str(block["primary_metric"].iloc[0]) if "primary_metric" in block
               else str(metrics[0])).replace("_", " ")
    text = f"Ranked and tested by {primary} (the dataset's primary metric)."
    n = int(block["n_subjects"].max())
    if n < 2:
        text += (" With a single test subject (or one pooled test fold) no test across "
                 "subjects is possible: neither differences between configurations nor a "
                 "subject-level result above chance can be shown.")
    else:
        smallest = smallest_wilcoxon_p(n)
        if len(block) > 1 and smallest >= 0.05:
            text += (f" With {n} subjects the smallest two-sided Wilcoxon p is {smallest:.3g}: "
                     "this table cannot show a significant difference between configurations.")
        if 0.5 ** n >= CHANCE_ALPHA:
            text += (f" With {n} subjects the smallest subject-level chance p is "
                     f"{0.5 ** n:.3g}: no row can be shown above chance across subjects.")
    transductive = sorted(set(block.get("test_data", pd.Series(dtype=str)).dropna())
                          - {"none"})
    if transductive:
        text += (" Rows whose 'uses test data' is not 'none' saw the test subject's unlabeled "
                 f"data before scoring ({'; '.join(transductive)}): they are ranked and tested "
                 "apart, below the inductive rows, each against the best row that uses the "
                 "test data the same way.")
    return text


def to_markdown(summary: pd.DataFrame, metrics: Sequence[str],
                provenance: dict[tuple, str] | None = None) -> str:
    """Render a summary as Markdown, one section per table (with its provenance line)."""
    lines: list[str] = []
    for key, block in summary.groupby(BLOCK_COLUMNS, sort=True):
        lines += [md_heading(3, block_title(*key)), ""]
        lines += md_table(*table_rows(block, metrics))
        lines.append("")
        lines += [md_text(block_caption(block, metrics)), ""]
        if provenance and key in provenance:
            lines += [md_text(f"Provenance: {provenance[key]}"), ""]
    return "\n".join(lines)
