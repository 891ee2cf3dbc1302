"""Tables of regression tasks (a numeric target per subject): scores, pooled metrics, tests.

A regression row (``target`` set; :mod:`eegbench.results.row`) stores its fold's targets,
float32 predictions and the mean training target. The subject is the unit, as for
classification:

- **per-subject score**: the absolute error of the subject's mean prediction,
  ``|mean(pred) - target|`` (the row's ``abs_error_of_mean``), averaged over seeds;
- **pooled metrics** across subjects: R², Pearson r, MAE and RMSE of the subjects' mean
  predictions (over windows, then seeds) against their targets, one value per configuration
  (no mean of per-fold R²: a left-out subject has a single target, so its R² is undefined);
- **Δ vs best and p (Holm)**: paired two-sided Wilcoxon signed-rank test across subjects of
  the per-subject absolute errors against the configuration with the lowest mean error, Holm-
  corrected within the table (:func:`eegbench.leaderboard.stats.compare_with_best`, as for
  classification);
- **p vs training mean**: one-sided paired Wilcoxon signed-rank test across subjects that the
  configuration's absolute error is smaller than that of the training-mean predictor of the same
  fold (``|train_mean - target|``, computed from each row's stored ``train_mean``; the
  ``mean_regressor`` model's prediction): the regression analogue of "p vs chance".

Under leave-one-subject-out the training-mean predictor has a negative pooled R² (each
left-out subject moves the training mean away from its own target), so R² of the reference is
shown, not assumed to be 0.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn import metrics as skm

from eegbench.leaderboard.escape import md_heading, md_table, md_text
from eegbench.leaderboard.stats import (
    WILCOXON_DESCRIPTION,
    bootstrap_ci,
    compare_with_best,
    one_sided_wilcoxon,
    smallest_wilcoxon_p,
)
from eegbench.leaderboard.tables import (
    BLOCK_COLUMNS,
    CONFIG_COLUMNS,
    GROUP_COLUMNS,
    TEST_BLOCK_COLUMNS,
    block_title,
    config_settings,
    test_data_uses,
)
from eegbench.metrics import higher_is_better

#: What regression tables test across subjects (the per-subject absolute error).
SCORE = "abs_error_of_mean"
#: The per-subject error of the training-mean predictor (the chance reference).
CHANCE_SCORE = "chance_abs_error"
#: Level of the "NOT better than the training mean" flag.
ALPHA = 0.05


def subject_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per table x configuration x subject: target, mean prediction, errors.

    Columns: the group columns, ``test_data``, ``test_subject``, ``target`` (the subject's
    target), ``mean_prediction`` (mean over its test windows, then seeds),
    ``abs_error_of_mean`` (the row's per-subject score, mean over seeds),
    ``chance_abs_error`` (``|train_mean - target|``, mean over seeds), ``train_mean``,
    ``mae_windows`` (the rows' window-level MAE, mean over seeds) and ``n_seeds``; written at
    full precision to ``<name>_per_subject.csv``, the input of every test.
    """
    records = []
    for _, row in frame.iterrows():
        pred = row["predictions"]
        target = float(np.mean(pred["y"]))
        train_mean = float(pred["train_mean"])
        records.append({**{c: row[c] for c in GROUP_COLUMNS}, "test_subject": row["test_subject"],
                        "target": target, "mean_prediction": float(np.mean(pred["pred"])),
                        SCORE: float(row["metric.abs_error_of_mean"]),
                        CHANCE_SCORE: abs(train_mean - target), "train_mean": train_mean,
                        "mae_windows": float(row["metric.mae"]), "seed": row["seed"]})
    rows = pd.DataFrame(records)
    out = (rows.groupby(GROUP_COLUMNS + ["test_subject"], dropna=False)
           .agg(target=("target", "mean"), mean_prediction=("mean_prediction", "mean"),
                abs_error_of_mean=(SCORE, "mean"), chance_abs_error=(CHANCE_SCORE, "mean"),
                train_mean=("train_mean", "mean"), mae_windows=("mae_windows", "mean"),
                n_seeds=("seed", "nunique"))
           .reset_index())
    out.insert(len(GROUP_COLUMNS), "test_data", out["config_hash"].map(test_data_uses(frame)))
    return out.sort_values(GROUP_COLUMNS + ["test_subject"], kind="stable").reset_index(
        drop=True)


def _pooled(cell: pd.DataFrame) -> dict[str, float]:
    """R², Pearson r, MAE and RMSE of the subjects' mean predictions against their targets."""
    y, p = cell["target"].to_numpy(float), cell["mean_prediction"].to_numpy(float)
    if len(y) < 2:
        return dict.fromkeys(("r2_subjects", "pearson_r_subjects", "mae_subjects",
                              "rmse_subjects"), math.nan)
    varies = not (np.all(y == y[0]) or np.all(p == p[0]))
    return {"r2_subjects": float(skm.r2_score(y, p)) if not np.all(y == y[0]) else math.nan,
            "pearson_r_subjects": float(sps.pearsonr(y, p).statistic) if varies else math.nan,
            "mae_subjects": float(np.mean(np.abs(p - y))),
            "rmse_subjects": float(np.sqrt(np.mean((p - y) ** 2)))}


def summarize(frame: pd.DataFrame, test: str = "wilcoxon", alpha: float = 0.05
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the summary (one row per table x configuration) and the per-subject table.

    Summary columns: group columns, ``rank`` (by mean per-subject error, lowest first, within
    the rows that use the test data the same way), ``n_subjects``, ``n_seeds``, ``n_rows``,
    ``n_parameters``, ``train_seconds``, ``primary_metric`` (:data:`SCORE`), ``primary_mean`` /
    ``primary_std`` (over subjects), ``primary_ci_low`` / ``primary_ci_high`` (95 % percentile
    bootstrap over subjects), the pooled metrics (:func:`_pooled`), ``chance_mean`` (mean
    error of the training-mean predictor), ``p_chance`` (one-sided Wilcoxon, see the module
    docstring), ``better_than_chance``, ``is_best``, ``n_pairs``, ``diff_vs_best``,
    ``p_value``, ``p_holm``, ``significant``, ``alpha`` (median selected ridge penalty, where
    the fit reports one), ``setting`` and ``target`` (column and unit).
    """
    subj = subject_table(frame)
    grouped = frame.groupby(GROUP_COLUMNS, dropna=False)
    out = grouped.agg(n_subjects=("test_subject", "nunique"), n_seeds=("seed", "nunique"),
                      n_rows=("seed", "size"), n_parameters=("n_parameters", "median"),
                      train_seconds=("train_seconds", "mean")).reset_index()
    alphas = frame.assign(_alpha=frame["fit_report"].map(
        lambda r: r.get("alpha") if isinstance(r, dict) else None)).groupby(
        GROUP_COLUMNS, dropna=False)["_alpha"].median().rename("ridge_alpha").reset_index()
    targets = frame.groupby(GROUP_COLUMNS, dropna=False)["target"].first().map(
        lambda t: f"{t.get('column')}" + (f" ({t['unit']})" if t.get("unit") else "")
    ).rename("target").reset_index()
    out = out.merge(alphas, on=GROUP_COLUMNS, how="left").merge(targets, on=GROUP_COLUMNS)
    out["setting"] = out["config_hash"].map(config_settings(frame)).fillna("")
    out["test_data"] = out["config_hash"].map(test_data_uses(frame))
    out["primary_metric"] = SCORE
    cells = []
    for key, cell in subj.groupby(GROUP_COLUMNS, dropna=False, sort=True):
        scores = cell[SCORE].to_numpy(float)
        low, high = bootstrap_ci(scores)
        p = one_sided_wilcoxon(cell[CHANCE_SCORE].to_numpy(float), scores)
        cells.append({**dict(zip(GROUP_COLUMNS, key, strict=True)),
                      "primary_mean": float(np.mean(scores)),
                      "primary_std": float(np.std(scores, ddof=1)) if len(scores) > 1
                      else math.nan,
                      "primary_ci_low": low, "primary_ci_high": high, **_pooled(cell),
                      "chance_mean": float(cell[CHANCE_SCORE].mean()), "p_chance": p,
                      "mae_windows_mean": float(cell["mae_windows"].mean()),
                      "better_than_chance": math.nan if math.isnan(p) else bool(p < ALPHA)})
    out = out.merge(pd.DataFrame(cells), on=GROUP_COLUMNS, how="left")
    tests = compare_with_best(subj, TEST_BLOCK_COLUMNS, CONFIG_COLUMNS, SCORE, method=test,
                              alpha=alpha, higher_is_better=higher_is_better(SCORE))
    out = out.merge(tests.drop(columns=["mean", "test_data"]), on=GROUP_COLUMNS, how="left")
    out["rank"] = (out.groupby(TEST_BLOCK_COLUMNS)["primary_mean"]
                   .rank(ascending=not higher_is_better(SCORE), method="min").astype(int))
    out = out.sort_values(BLOCK_COLUMNS + ["test_data", "rank"] + CONFIG_COLUMNS,
                          kind="stable").reset_index(drop=True)
    first = ["dataset", "task", "protocol", "model", "family", "adaptation", "calibration",
             "shots", "config_hash", "rank"]
    return out[first + [c for c in out.columns if c not in first]], subj


def _num(value: float, digits: int = 3) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _p(value: float) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.3g}"


HEADER = ["rank", "model", "family", "adaptation", "uses test data", "subjects", "seeds",
          "params", "|error| of subject mean", "95% CI", "MAE (subjects)", "RMSE (subjects)",
          "R² (subjects)", "Pearson r (subjects)", "MAE (windows)", "training-mean |error|",
          "p vs training mean", "Δ vs best", "p (Holm)", "ridge alpha", "train s/fold",
          "config"]


def table_rows(block: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """The header and formatted cells of one regression table."""
    with_setting = (block["setting"] != "").any()
    header = list(HEADER)
    if with_setting:
        header.insert(4, "setting")
    rows = []
    for _, r in block.iterrows():
        p_chance = _p(r["p_chance"])
        if r["better_than_chance"] is False:
            p_chance += " NOT below"
        holm = "best" if r["is_best"] else (_p(r["p_holm"]) + (" *" if r["significant"]
                                                               else ""))
        cells = [str(r["rank"]), r["model"], r["family"], r["adaptation"],
                 r.get("test_data") or "none", str(r["n_subjects"]), str(r["n_seeds"]),
                 f"{int(r['n_parameters']):,}",
                 f"{_num(r['primary_mean'])} ± {_num(r['primary_std'])}",
                 f"[{_num(r['primary_ci_low'])}, {_num(r['primary_ci_high'])}]",
                 _num(r["mae_subjects"]), _num(r["rmse_subjects"]), _num(r["r2_subjects"]),
                 _num(r["pearson_r_subjects"]), _num(r.get("mae_windows_mean")),
                 _num(r["chance_mean"]), p_chance,
                 "—" if r["is_best"] else f"{r['diff_vs_best']:+.3f}", holm,
                 "n/a" if pd.isna(r["ridge_alpha"]) else f"{r['ridge_alpha']:.3g}",
                 f"{r['train_seconds']:.1f}", f"`{r['config_hash']}`"]
        if with_setting:
            cells.insert(4, r["setting"])
        rows.append(cells)
    return header, rows


def caption(block: pd.DataFrame) -> str:
    """What one regression table shows and what each p tests."""
    target = block["target"].iloc[0]
    n = int(block["n_subjects"].max())
    text = (f"Target: {target}, one value per subject. Ranked by the mean over subjects of "
            "the absolute error of each subject's mean prediction (|error| of subject mean, "
            "lower is better; ± sample SD; 95% CI: percentile bootstrap over subjects). MAE, "
            "RMSE, R² and Pearson r (subjects) pool the subjects' mean predictions against "
            "their targets; MAE (windows) is the window-level error. 'training-mean |error|': "
            "the same error for the mean training target of each fold (the mean_regressor "
            "prediction). 'p vs training mean': one-sided paired Wilcoxon signed-rank test "
            "across subjects that the configuration's absolute error is smaller than the "
            "training mean's ('NOT below' when p >= 0.05). 'Δ vs best' and 'p (Holm)': paired "
            "two-sided Wilcoxon test across subjects of the absolute errors against the "
            "lowest-error configuration, Holm-corrected within the table (Δ > 0: larger "
            "error than the best). Under leave-one-subject-out the training-mean predictor has "
            "a negative R² and a Pearson r near -1 across subjects (each left-out subject moves "
            "the training mean away from its own target): the reference to beat, not 0.")
    if n < 2:
        text += " With one test subject no test across subjects is possible."
    elif len(block) > 1 and smallest_wilcoxon_p(n) >= 0.05:
        text += (f" With {n} subjects the smallest two-sided Wilcoxon p is "
                 f"{smallest_wilcoxon_p(n):.3g}: no difference can be significant.")
    return text


def to_markdown(summary: pd.DataFrame, provenance: dict[tuple, str] | None = None,
                level: int = 3) -> list[str]:
    """Markdown lines of every regression table (with captions and provenance)."""
    lines: list[str] = []
    for key, block in summary.groupby(BLOCK_COLUMNS, sort=True):
        lines += [md_heading(level, block_title(*key) + " (regression)"), ""]
        lines += md_table(*table_rows(block))
        lines += ["", md_text(caption(block)), ""]
        if provenance and key in provenance:
            lines += [md_text(f"Provenance: {provenance[key]}"), ""]
    return lines


NOTES = ("Regression tables: the subject is the unit. Each subject's score is the absolute "
         "error of its mean prediction over its test windows (averaged over seeds); the pooled "
         "metrics compare the subjects' mean predictions with their targets. Every p-value is "
         "recomputed from <name>_per_subject.csv (columns abs_error_of_mean and "
         f"chance_abs_error) by the test suite ({WILCOXON_DESCRIPTION}).")

