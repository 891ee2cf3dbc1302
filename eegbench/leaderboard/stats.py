"""Statistics for the leaderboard: paired tests across subjects, Holm correction, rank aggregation.

The unit of every test is the *subject*: each configuration's score on a subject is first
averaged over seeds (and few-shot draws), then two configurations are compared on the subjects
they share, with a paired two-sided test. Within one table (dataset x task x protocol x shots),
every configuration is compared with the best one and the p-values are Holm-corrected.

Paired differences (and differences to chance) are rounded to :data:`TIE_DECIMALS` decimals
before any test, so that scores that are equal as fractions (e.g. balanced accuracies k/36)
give exact zero and tied differences instead of floating-point noise; zero differences are
then dropped (``zero_method="wilcox"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

TESTS = ("wilcoxon", "permutation")
#: Decimals kept before a rank test (exact ties and zero differences stay exact).
TIE_DECIMALS = 9
#: How :func:`scipy.stats.wilcoxon` treats zero differences and ties here (stated in captions).
WILCOXON_ZERO_METHOD = "wilcox"
WILCOXON_DESCRIPTION = ("scipy.stats.wilcoxon, differences rounded to 1e-9, zero differences "
                        "dropped (zero_method='wilcox'), method='auto' (exact null distribution "
                        "without ties or zeros, else the normal approximation with tie "
                        "correction)")
#: Draws of the subject-level sign-flip test when the exact test (2**n sign patterns) is too
#: large.
SIGN_FLIP_DRAWS = 10000


def round_scores(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Scores rounded to :data:`TIE_DECIMALS` decimals (NaN stays NaN)."""
    return np.round(np.asarray(values, dtype=float), TIE_DECIMALS)


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

    The paired differences are rounded to :data:`TIE_DECIMALS` decimals (:func:`round_scores`)
    before the test (rounding each score first would turn one difference into two values one
    unit of the last decimal apart, breaking ties).

    Parameters
    ----------
    a, b : sequence of float
        Per-subject scores of two configurations.
    method : {"wilcoxon", "permutation"}
        Wilcoxon signed-rank test (:func:`scipy.stats.wilcoxon`, zero differences dropped:
        ``zero_method="wilcox"``) or
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
    if np.all(round_scores(a - b) == 0.0):
        return 0.0, 1.0
    if method == "wilcoxon":
        res = stats.wilcoxon(round_scores(a - b), zero_method=WILCOXON_ZERO_METHOD,
                             alternative="two-sided")
        return float(res.statistic), float(res.pvalue)
    d = round_scores(a - b)
    res = stats.permutation_test((d,), lambda x: np.mean(x), vectorized=False,
                                 permutation_type="samples", alternative="two-sided",
                                 n_resamples=n_resamples, random_state=seed)
    return float(res.statistic), float(res.pvalue)


def compare_with_best(scores: pd.DataFrame, block: Sequence[str], config: Sequence[str],
                      value: str, method: str = "wilcoxon", alpha: float = 0.05,
                      higher_is_better: bool = True) -> pd.DataFrame:
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
        Score column.
    method : str
        See :func:`paired_test`.
    alpha : float
        Level of the ``significant`` flag (on Holm-adjusted p-values).
    higher_is_better : bool
        The score's direction: the best configuration has the highest mean (default) or, for
        an error such as MAE, the lowest.

    Returns
    -------
    DataFrame
        One row per (block, configuration): ``mean``, ``is_best``, ``n_pairs`` (subjects shared
        with the best), ``diff_vs_best`` (mean paired difference, configuration minus best:
        negative for a worse accuracy, positive for a worse error), ``statistic``,
        ``p_value``, ``p_holm`` and ``significant`` (worse than the best at level ``alpha``).
        The best configuration has NaN p-values. Ties for best go to the first in sorted
        order.
    """
    block, config = list(block), list(config)
    out = []
    for _, frame in scores.groupby(block, sort=True, dropna=False):
        means = (frame.groupby(config, sort=True, dropna=False)[value].mean()
                 .reset_index().rename(columns={value: "mean"}))
        ordered = means["mean"].to_numpy()
        best_pos = int(np.argmax(ordered) if higher_is_better else np.argmin(ordered))
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


# --------------------------------------------------------------------------- against chance


def adjusted_chance_level(n_classes: int, n_trials: int, alpha: float = 0.05) -> float:
    """Accuracy that chance exceeds with probability ``alpha`` for ``n_trials`` trials.

    The binomial inverse survival function at ``1 / n_classes`` (Combrisson & Jerbi 2015,
    J. Neurosci. Methods 250:126-136), as ``moabb.analysis.chance_level.adjusted_chance_level``
    computes it; valid for balanced classes.
    """
    if n_trials < 1 or n_classes < 2:
        return float("nan")
    return float(stats.binom.isf(alpha, n_trials, 1.0 / n_classes) / n_trials)


#: Metrics the permutation test can recompute from stored predictions.
PERMUTABLE = ("balanced_accuracy", "roc_auc")


def _permuted_metric(y: np.ndarray, proba: np.ndarray, metric: str, perms: np.ndarray
                     ) -> tuple[float, np.ndarray]:
    """Return the metric of (y, proba) and its values under label permutations ``perms``."""
    if metric == "balanced_accuracy":
        pred = proba.argmax(axis=1)
        labels = np.vstack([y[None, :], y[perms]])
        recalls = [((labels == c) & (pred == c)).sum(1) / (y == c).sum() for c in np.unique(y)]
        values = np.mean(recalls, axis=0)
    elif metric == "roc_auc":
        if proba.shape[1] != 2 or len(np.unique(y)) != 2:
            return float("nan"), np.full(len(perms), np.nan)
        ranks = stats.rankdata(proba[:, 1])
        labels = np.vstack([y[None, :], y[perms]]) == 1
        n1 = int((y == 1).sum())
        n0 = len(y) - n1
        values = ((labels * ranks).sum(1) - n1 * (n1 + 1) / 2) / (n1 * n0)
    else:
        raise ValueError(f"Invalid value for the 'metric' parameter. Allowed values are "
                         f"{list(PERMUTABLE)}, but got {metric!r}.")
    return float(values[0]), values[1:]


def permutation_chance_test(predictions: Sequence[dict], subjects: Sequence[str], metric: str,
                            n_permutations: int = 1000, seed: int = 0) -> dict[str, float]:
    """Test a table cell against chance by permuting labels within each test fold.

    Each fold's metric is recomputed from its stored labels and class probabilities; under the
    null hypothesis (predictions unrelated to labels) the labels of each fold are permuted
    independently, fold scores are averaged per subject and then over subjects, exactly like
    the observed cell score. Windows of one recording are exchangeable under this null only if
    they are independent, so the test is a check that predictions carry label information, not
    a test of generalisation. Folds where the metric is undefined (ROC AUC of a fold with one
    class) are left out, as in the table's mean.

    Parameters
    ----------
    predictions : sequence of dict
        One per fold: ``y`` (labels) and ``proba`` (n_windows x n_classes).
    subjects : sequence of str
        Test subject of each fold (folds of one subject are averaged first).
    metric : {"balanced_accuracy", "roc_auc"}
        Metric tested.
    n_permutations : int
        Permutations (p-values are >= 1 / (n_permutations + 1)).
    seed : int
        Random state of the permutations.

    Returns
    -------
    dict
        ``score`` (the cell's observed score), ``null_mean``, ``p_value`` (one-sided, score
        above chance) and ``n_folds``; NaN when no fold has predictions.
    """
    rng = np.random.default_rng(seed)
    observed: dict[str, list[float]] = {}
    nulls: dict[str, list[np.ndarray]] = {}
    for pred, subject in zip(predictions, subjects, strict=True):
        if not isinstance(pred, dict) or "y" not in pred or "proba" not in pred:
            continue
        y = np.asarray(pred["y"], dtype=int)
        proba = np.asarray(pred["proba"], dtype=float)
        perms = np.argsort(rng.random((n_permutations, len(y))), axis=1)
        value, null = _permuted_metric(y, proba, metric, perms)
        if np.isnan(value):  # undefined on this fold (e.g. ROC AUC of a one-class fold)
            continue
        observed.setdefault(str(subject), []).append(value)
        nulls.setdefault(str(subject), []).append(null)
    if not observed:
        return {"score": float("nan"), "null_mean": float("nan"), "p_value": float("nan"),
                "n_folds": 0}
    score = float(np.mean([np.mean(v) for v in observed.values()]))
    null = np.mean([np.mean(v, axis=0) for v in nulls.values()], axis=0)
    if np.isnan(score):
        return {"score": score, "null_mean": float("nan"), "p_value": float("nan"),
                "n_folds": sum(map(len, observed.values()))}
    p = (1 + int(np.sum(null >= score - 1e-12))) / (n_permutations + 1)
    return {"score": score, "null_mean": float(np.nanmean(null)), "p_value": float(p),
            "n_folds": sum(map(len, observed.values()))}


def bootstrap_ci(values: Sequence[float], confidence: float = 0.95, n_resamples: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean over subjects.

    Returns ``(nan, nan)`` with fewer than 3 values (no meaningful resampling).
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) < 3 or np.allclose(x, x[0]):
        return (float("nan"), float("nan")) if len(x) < 3 else (float(x[0]), float(x[0]))
    res = stats.bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                          method="percentile", random_state=seed)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


# --------------------------------------------------------------------------- across datasets

#: Studentised range statistic / sqrt(2) for the Nemenyi test at alpha = 0.05, by number of
#: configurations k = 2..10 (Demsar 2006, JMLR 7:1-30, Table 5a).
NEMENYI_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031,
               9: 3.102, 10: 3.164}


def friedman_nemenyi(scores: pd.DataFrame) -> dict[str, object]:
    """Friedman test and Nemenyi critical difference over a datasets x configurations table.

    Parameters
    ----------
    scores : DataFrame
        One row per dataset, one column per configuration (higher is better), no NaN.

    Returns
    -------
    dict
        ``mean_ranks`` (Series, 1 = best), ``n_datasets``, ``friedman_p`` (NaN for fewer than
        3 configurations), ``cd`` (Nemenyi critical difference at 0.05; NaN beyond 10
        configurations).
    """
    n, k = scores.shape
    ranks = scores.rank(axis=1, ascending=False, method="average")
    mean_ranks = ranks.mean(axis=0).sort_values()
    p = float("nan")
    if k >= 3 and n >= 2:
        p = float(stats.friedmanchisquare(*[scores[c].to_numpy() for c in scores]).pvalue)
    q = NEMENYI_Q05.get(k)
    cd = float("nan") if q is None else q * np.sqrt(k * (k + 1) / (6.0 * n))
    return {"mean_ranks": mean_ranks, "n_datasets": n, "friedman_p": p, "cd": cd}


# --------------------------------------------------------------------------- subject level


def subject_chance_test(scores: Sequence[float], chance: float,
                        n_resamples: int = SIGN_FLIP_DRAWS, seed: int = 0) -> dict[str, Any]:
    """One-sided sign-flip permutation test across subjects of ``score - chance`` > 0.

    The subjects are the unit: under the null hypothesis (a new subject's score is
    symmetric around chance) the sign of each subject's ``score - chance`` is exchangeable.
    The statistic is the mean difference (:func:`scipy.stats.permutation_test`,
    ``permutation_type="samples"`` with one sample flips signs); the test is exact (all
    ``2**n`` sign patterns) when ``2**n <= n_resamples``, else ``n_resamples`` random patterns
    drawn with ``seed`` (p = (1 + hits) / (1 + draws)). Differences are rounded to
    :data:`TIE_DECIMALS` decimals first.

    Parameters
    ----------
    scores : sequence of float
        One score per subject (NaN entries left out).
    chance : float
        The metric's chance level (0.5 for ROC AUC, 1 / n_classes for balanced accuracy).
    n_resamples : int
        Random sign patterns when the exact test is too large.
    seed : int
        Random state of the patterns.

    Returns
    -------
    dict
        ``p_value`` (NaN with fewer than 2 subjects), ``n_subjects``, ``exact`` (bool),
        ``n_draws`` (sign patterns used) and ``floor`` (the smallest p the test can give).
    """
    d = round_scores(np.asarray(scores, dtype=float) - chance)
    d = d[~np.isnan(d)]
    n = len(d)
    if n < 2:
        return {"p_value": float("nan"), "n_subjects": n, "exact": False, "n_draws": 0,
                "floor": float("nan")}
    exact = 2 ** n <= n_resamples
    if np.all(d == 0.0):
        p = 1.0
    else:
        res = stats.permutation_test((d,), lambda x, axis: np.mean(x, axis=axis),
                                     vectorized=True, permutation_type="samples",
                                     alternative="greater", n_resamples=n_resamples,
                                     random_state=seed)
        p = float(res.pvalue)
    draws = 2 ** n if exact else n_resamples
    floor = 1.0 / draws if exact else 1.0 / (draws + 1)
    return {"p_value": p, "n_subjects": n, "exact": exact, "n_draws": draws, "floor": floor}


def smallest_wilcoxon_p(n_subjects: int) -> float:
    """Smallest two-sided exact Wilcoxon signed-rank p-value with ``n_subjects`` pairs (2 / 2**n).

    With 5 subjects it is 0.0625: no paired difference can be significant at 0.05.
    """
    return float("nan") if n_subjects < 1 else min(1.0, 2.0 / 2 ** n_subjects)


def format_p(p: float | None, floor: float | None = None, exact: bool = False) -> str:
    """A p-value for a table: 3 significant digits; at a random-permutation floor "< 1/draws".

    A randomised permutation test with ``m`` draws cannot give p below ``1 / (m + 1)``; such a
    p is printed as an upper bound ("< 0.001" for 1000 draws), never as an estimate. An exact
    test's smallest p is exact and printed as it is.
    """
    if p is None or pd.isna(p):
        return "n/a"
    if floor is not None and not pd.isna(floor) and not exact and p <= floor * (1 + 1e-9):
        return f"< {1.0 / (1.0 / floor - 1):.2g}"
    return f"{p:.3g}"


# --------------------------------------------------------------------------- across datasets


def stouffer(pvalues: Sequence[float], n_subjects: Sequence[int]) -> float:
    """Stouffer's combination of one-sided p-values, weighted by sqrt(subjects).

    As MOABB's meta-analysis (``moabb.analysis.meta_analysis.combine_pvalues``:
    :func:`scipy.stats.combine_pvalues` with ``method="stouffer"`` and weights
    ``sqrt(n_subjects)``). NaN entries are left out; NaN when none is left.
    """
    p = np.asarray(pvalues, dtype=float)
    w = np.sqrt(np.asarray(n_subjects, dtype=float))
    keep = ~np.isnan(p)
    if not keep.any():
        return float("nan")
    p = np.clip(p[keep], 1e-300, 1.0)
    return float(stats.combine_pvalues(p, method="stouffer", weights=w[keep]).pvalue)


def one_sided_wilcoxon(a: Sequence[float], b: Sequence[float]) -> float:
    """One-sided Wilcoxon p-value that ``a`` > ``b`` (paired; rounding and zeros as above).

    1.0 when every difference is zero; NaN with fewer than two pairs.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    d = round_scores(a[keep] - b[keep])
    if len(d) < 2:
        return float("nan")
    if np.all(d == 0.0):
        return 1.0
    return float(stats.wilcoxon(d, zero_method=WILCOXON_ZERO_METHOD,
                                alternative="greater").pvalue)
