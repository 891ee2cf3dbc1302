"""Leaderboard statistics agree with scipy and with hand-computed values."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eegbench.leaderboard.stats import compare_with_best, holm, paired_test, rank_aggregate


def test_holm_matches_hand_computed_values():
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])
    out = holm([np.nan, 0.02, 0.01])
    assert np.isnan(out[0]) and np.allclose(out[1:], [0.02, 0.02])


def test_wilcoxon_agrees_with_scipy():
    rng = np.random.default_rng(0)
    a = rng.uniform(0.5, 0.9, 20)
    b = a - rng.normal(0.03, 0.05, 20)
    stat, p = paired_test(a, b, "wilcoxon")
    ref = stats.wilcoxon(a, b)
    assert stat == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)


def test_permutation_test_is_exact_sign_flip_test_for_small_n():
    a = np.array([0.61, 0.72, 0.55, 0.80, 0.66, 0.70])
    b = np.array([0.58, 0.65, 0.57, 0.71, 0.60, 0.69])
    d = a - b
    flips = np.array(list(itertools.product([1, -1], repeat=len(d))))
    null = (flips * d).mean(axis=1)
    expected = np.mean(np.abs(null) >= abs(d.mean()) - 1e-12)
    stat, p = paired_test(a, b, "permutation")
    assert stat == pytest.approx(d.mean()) and p == pytest.approx(expected)


def test_degenerate_inputs():
    assert paired_test([0.5, 0.6], [0.5, 0.6]) == (0.0, 1.0)
    assert all(np.isnan(paired_test([0.5], [0.4])))
    with pytest.raises(ValueError, match="method"):
        paired_test([1, 2], [1, 2], "ttest")


def test_compare_with_best_tests_each_config_against_the_best_with_holm():
    rng = np.random.default_rng(1)
    subjects = [f"{i:02d}" for i in range(12)]
    base = rng.uniform(0.6, 0.8, len(subjects))
    scores = {"best": base + 0.1, "mid": base + rng.normal(0.0, 0.02, 12), "low": base - 0.05}
    frame = pd.DataFrame([{"dataset": "d", "model": m, "test_subject": s, "score": v[i]}
                          for m, v in scores.items() for i, s in enumerate(subjects)])
    out = compare_with_best(frame, ["dataset"], ["model"], "score").set_index("model")
    assert out.loc["best", "is_best"] and np.isnan(out.loc["best", "p_value"])
    raw = [stats.wilcoxon(scores[m], scores["best"]).pvalue for m in ("low", "mid")]
    assert out.loc["low", "p_value"] == pytest.approx(raw[0])
    np.testing.assert_allclose(out.loc[["low", "mid"], "p_holm"], holm(raw))
    assert out.loc["low", "diff_vs_best"] == pytest.approx(-0.15)
    assert out.loc["low", "significant"] and out.loc["low", "n_pairs"] == 12


def test_rank_aggregation_averages_ranks_across_datasets():
    summary = pd.DataFrame({
        "dataset": ["d1", "d1", "d1", "d2", "d2"], "task": "t", "protocol": "loso",
        "model": ["a", "b", "c", "a", "b"], "score": [0.9, 0.8, 0.8, 0.6, 0.7]})
    out = rank_aggregate(summary, ["protocol"], ["model"], "score").set_index("model")
    assert out.loc["a", "mean_rank"] == pytest.approx((1 + 2) / 2)
    assert out.loc["b", "mean_rank"] == pytest.approx((2.5 + 1) / 2)
    assert out.loc["c", "mean_rank"] == pytest.approx(2.5) and out.loc["c", "n_datasets"] == 1


def test_subject_chance_test_is_exact_for_few_subjects_and_seeded_for_many():
    from eegbench.leaderboard.stats import subject_chance_test

    # 5 subjects all above chance: exact sign-flip p = 1 / 2**5 (only the observed pattern)
    res = subject_chance_test([0.6, 0.7, 0.55, 0.8, 0.9], 0.5)
    assert res["exact"] and res["n_draws"] == 32
    assert res["p_value"] == pytest.approx(1 / 32) == pytest.approx(res["floor"])
    # one subject below chance by the most: patterns with mean >= observed, counted by hand
    d = np.array([0.1, 0.2, 0.05, -0.3])
    signs = np.array(np.meshgrid(*[[-1, 1]] * 4)).reshape(4, -1).T
    expected = np.mean((signs * d).mean(1) >= d.mean() - 1e-12)
    assert subject_chance_test(d + 0.5, 0.5)["p_value"] == pytest.approx(expected)
    many = subject_chance_test(np.linspace(0.45, 0.75, 36), 0.5)
    assert not many["exact"] and many["n_draws"] == 10000
    assert many == subject_chance_test(np.linspace(0.45, 0.75, 36), 0.5)  # fixed seed
    assert np.isnan(subject_chance_test([0.9], 0.5)["p_value"])


def test_p_at_a_random_permutation_floor_reads_as_a_bound():
    from eegbench.leaderboard.stats import format_p

    assert format_p(1 / 1001, 1 / 1001) == "< 0.001"
    assert format_p(1 / 10001, 1 / 10001) == "< 0.0001"
    assert format_p(1 / 32, 1 / 32, exact=True) == "0.0312"  # an exact p is a value
    assert format_p(0.0123, 1 / 1001) == "0.0123"


def test_exact_ties_survive_floating_point_noise():
    """Scores k/36 computed two ways must give the same Wilcoxon p (zeros dropped)."""
    rng = np.random.default_rng(0)
    k_a = rng.integers(14, 30, size=36)
    k_b = k_a + rng.integers(-2, 3, size=36)  # many exact zero and tied differences
    clean_a, clean_b = k_a / 36, k_b / 36
    noisy_a = np.array([sum([1 / 36] * k) for k in k_a])  # the same fractions, summed
    assert not np.array_equal(noisy_a, clean_a)
    assert paired_test(noisy_a, clean_b) == paired_test(clean_a, clean_b)
    from scipy import stats as sp

    d = np.round(clean_a - clean_b, 9)
    assert paired_test(clean_a, clean_b)[1] == pytest.approx(
        sp.wilcoxon(d, zero_method="wilcox").pvalue)


def test_stouffer_weights_by_sqrt_subjects_as_moabb():
    from scipy import stats as sp

    from eegbench.leaderboard.stats import smallest_wilcoxon_p, stouffer

    p, n = [0.01, 0.3, 0.6], [36, 12, 5]
    z = sp.norm.isf(p)
    w = np.sqrt(n)
    assert stouffer(p, n) == pytest.approx(sp.norm.sf((w * z).sum() / np.sqrt((w ** 2).sum())))
    assert smallest_wilcoxon_p(5) == pytest.approx(0.0625)
    assert smallest_wilcoxon_p(6) < 0.05
