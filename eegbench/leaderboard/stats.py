"""Statistics for the leaderboard: paired tests across subjects, Holm correction, rank aggregation.

The unit of every test is the *subject*: each configuration's score on a subject is first
averaged over seeds (and few-shot draws), then two configurations are compared on the subjects
they share, with a paired two-sided test. Within one table (dataset x task x protocol x shots),
every configuration is compared with the best one and the p-values are Holm-corrected.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

TESTS = ("wilcoxon", "permutation")


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values (NaN entries are ignored and stay NaN).

    Parameters
    ----------
    pvalues : sequence of float
        Unadjusted p-values of one family of tests.

    Returns
    -------
    ndarray
        Adjusted p-values, in the input order, monotone in the p-value order and <= 1.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out


def paired_test(a: Sequence[float], b: Sequence[float], method: str = "wilcoxon",
                n_resamples: int = 9999, seed: int = 0) -> tuple[float, float]:
    """Paired two-sided test of ``a`` vs ``b`` (same subjects, same order).

    Parameters
    ----------
    a, b : sequence of float
        Per-subject scores of two configurations.
    method : {"wilcoxon", "permutation"}
        Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`, zero differences dropped) or
        a sign-flip permutation test of the mean difference
        (:func:`scipy.stats.permutation_test`, ``permutation_type="samples"``; exact when
        ``2**n <= n_resamples``).
    n_resamples : int
        Permutation test only.
    seed : int
        Permutation test only (random state of the resampling).

    Returns
    -------
    statistic, pvalue : float
        ``(nan, nan)`` with fewer than two pairs; p = 1 when every difference is zero.
    """
    if method not in TESTS:
        raise ValueError(f"Invalid value for the 'method' parameter. Allowed values are "
                         f"{list(TESTS)}, but got {method!r}.")
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired scores must have the same shape; got {a.shape} and {b.shape}.")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    if len(a) < 2:
        return float("nan"), float("nan")
    if np.allclose(a - b, 0.0):
        return 0.0, 1.0
    if method == "wilcoxon":
        res = stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")
        return float(res.statistic), float(res.pvalue)
    res = stats.permutation_test((a, b), lambda x, y: np.mean(x - y), vectorized=False,
                                 permutation_type="samples", alternative="two-sided",
                                 n_resamples=n_resamples, random_state=seed)
    return float(res.statistic), float(res.pvalue)


def compare_with_best(scores: pd.DataFrame, block: Sequence[str], config: Sequence[str],
                      value: str, method: str = "wilcoxon", alpha: float = 0.05
                      ) -> pd.DataFrame:
    """Compare every configuration of each block with the block's best configuration.

    Parameters
    ----------
    scores : DataFrame
        One row per (block, configuration, subject) with the score in column ``value``.
    block : sequence of str
        Columns that define one table (e.g. dataset, task, protocol, shots).
    config : sequence of str
        Columns that define a configuration (e.g. model, adaptation, config_hash).
    value : str
        Score column (higher is better).
    method : str
        See :func:`paired_test`.
    alpha : float
        Level of the ``significant`` flag (on Holm-adjusted p-values).

    Returns
    -------
    DataFrame
        One row per (block, configuration): ``mean``, ``is_best``, ``n_pairs`` (subjects shared
        with the best), ``diff_vs_best`` (mean paired difference), ``statistic``, ``p_value``,
        ``p_holm`` and ``significant`` (worse than the best at level ``alpha``). The best
        configuration has NaN p-values. Ties for best go to the first in sorted order.
    """
    block, config = list(block), list(config)
    out = []
    for _, frame in scores.groupby(block, sort=True, dropna=False):
        means = (frame.groupby(config, sort=True, dropna=False)[value].mean()
                 .reset_index().rename(columns={value: "mean"}))
        best_pos = int(np.argmax(means["mean"].to_numpy()))
        best_key = tuple(means.iloc[best_pos][config])
        pivot = frame.pivot_table(index="test_subject", columns=config, values=value,
                                  aggfunc="mean", dropna=False)
        best_col = pivot[best_key] if len(config) > 1 else pivot[best_key[0]]
        rows = []
        for pos in range(len(means)):
            key = tuple(means.iloc[pos][config])
            row = {**frame.iloc[0][block].to_dict(), **dict(zip(config, key, strict=True)),
                   "mean": float(means.iloc[pos]["mean"]), "is_best": pos == best_pos}
            col = pivot[key] if len(config) > 1 else pivot[key[0]]
            both = ~(col.isna() | best_col.isna())
            row["n_pairs"] = int(both.sum())
            row["diff_vs_best"] = (float((col[both] - best_col[both]).mean()) if both.any()
                                   else float("nan"))
            if pos == best_pos:
                row["statistic"] = row["p_value"] = float("nan")
            else:
                row["statistic"], row["p_value"] = paired_test(col[both], best_col[both], method)
            rows.append(row)
        block_frame = pd.DataFrame(rows)
        block_frame["p_holm"] = holm(block_frame["p_value"].to_numpy())
        block_frame["significant"] = block_frame["p_holm"] < alpha
        out.append(block_frame)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def rank_aggregate(summary: pd.DataFrame, by: Sequence[str], config: Sequence[str],
                   value: str) -> pd.DataFrame:
    """Average each configuration's rank across datasets.

    Within each table (``by`` plus ``dataset``/``task``), configurations are ranked by
    ``value`` (1 = best, ties get the average rank); ranks are then averaged over the tables
    in which a configuration appears.

    Parameters
    ----------
    summary : DataFrame
        One row per table x configuration, with ``dataset``, ``task`` and ``value`` columns.
    by : sequence of str
        Columns shared by the tables being aggregated (e.g. protocol, shots).
    config : sequence of str
        Columns identifying a configuration across datasets (no config hash: it includes the
        dataset).
    value : str
        Score column (higher is better).

    Returns
    -------
    DataFrame
        ``by`` + ``config`` + ``mean_rank``, ``n_datasets`` and ``datasets``, sorted by
        ``by`` then ``mean_rank``.
    """
    by, config = list(by), list(config)
    frame = summary.copy()
    frame["rank"] = (frame.groupby(by + ["dataset", "task"], dropna=False)[value]
                     .rank(ascending=False, method="average"))
    agg = (frame.groupby(by + config, dropna=False, sort=True)
           .agg(mean_rank=("rank", "mean"), n_datasets=("dataset", "nunique"),
                datasets=("dataset", lambda s: ", ".join(sorted(set(s)))))
           .reset_index())
    return agg.sort_values(by + ["mean_rank"] + config, kind="stable").reset_index(drop=True)
