"""Foundation models are compared with the best specialist and the best classical pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eegbench.leaderboard.sections import foundation_section, foundation_table
from eegbench.leaderboard.tables import summarize


def _rows(model, family, scores, align=None):
    config = {"model": {"name": model}, "protocol": {"name": "loso", "align": align}}
    return [{"config": config, "dataset": "d", "task": "t", "protocol": "loso", "model": model,
             "family": family,
             "adaptation": "linear_probe" if family == "foundation" else "from_scratch",
             "config_hash": model, "test_subject": f"{i:02d}", "seed": 0,
             "n_parameters": 1000, "train_seconds": 1.0, "inference_seconds": 0.1,
             "peak_rss_mb": 1.0, "metric.balanced_accuracy": s, "metric.roc_auc": s}
            for i, s in enumerate(scores)]


def test_references_are_the_best_of_each_family_and_tests_are_paired():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 0.7, size=12)
    frame = pd.DataFrame(_rows("fm", "foundation", base + 0.05)
                         + _rows("weak_cnn", "specialist", base - 0.05)
                         + _rows("cnn", "specialist", base)
                         + _rows("riemann", "classical", base + 0.10))
    summary = summarize(frame, metrics=("balanced_accuracy",))
    table = foundation_table(frame, summary, {"d": "balanced_accuracy"})
    refs = table.set_index("reference_family")
    assert refs.loc["specialist", "reference"].startswith("cnn (")
    assert refs.loc["classical", "reference"].startswith("riemann (")
    assert refs.loc["specialist", "difference"] == pytest.approx(0.05)
    assert refs.loc["classical", "difference"] == pytest.approx(-0.05)
    assert (table["n_subjects"] == 12).all()
    # a constant paired difference over 12 subjects: exact Wilcoxon p = 2 / 2**12, Holm x2
    assert table["p_holm"].max() == pytest.approx(2 * 2 / 2 ** 12)
    assert "best classical" in "\n".join(foundation_section(frame, summary,
                                                            {"d": "balanced_accuracy"}))


def test_no_section_without_foundation_rows():
    frame = pd.DataFrame(_rows("cnn", "specialist", [0.6, 0.7, 0.8]))
    summary = summarize(frame, metrics=("balanced_accuracy",))
    assert foundation_section(frame, summary, {"d": "balanced_accuracy"}) == []


def test_weights_column_shows_how_each_foundation_row_was_pinned():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.5, 0.7, size=6)
    pinned = {"source": "known:cbramod-braindecode", "kind": "hub", "sha256": "ab" * 32,
              "commit": None, "pinned_by": "sha256", "known": "cbramod-braindecode"}
    moving = {"source": "hf://o/r@main/f.bin", "kind": "hub", "sha256": "cd" * 32,
              "commit": "1234567890" * 4, "pinned_by": "none"}
    rows = (_rows("fm_pinned", "foundation", base + 0.05)
            + _rows("fm_moving", "foundation", base + 0.02)
            + _rows("cnn", "specialist", base))
    for row in rows:
        row["weights"] = {"fm_pinned": pinned, "fm_moving": moving}.get(row["model"])
    frame = pd.DataFrame(rows)
    summary = summarize(frame, metrics=("balanced_accuracy",))
    table = foundation_table(frame, summary, {"d": "balanced_accuracy"}).set_index("foundation")
    labels = {k.split(" ")[0]: v for k, v in table["weights"].items()}
    assert labels["fm_pinned"] == f"content-pinned `cbramod-braindecode` (sha256 {'ab' * 6})"
    assert labels["fm_moving"] == f"UNPINNED (commit 1234567, sha256 {'cd' * 6})"
    text = "\n".join(foundation_section(frame, summary, {"d": "balanced_accuracy"}))
    assert "| table | uses test data | foundation model | weights | vs |" in text
    assert "content-pinned `cbramod-braindecode`" in text
    # rows without the field (older results): no column
    old = frame.drop(columns="weights")
    assert "content-pinned" not in "\n".join(foundation_section(
        old, summarize(old, metrics=("balanced_accuracy",)), {"d": "balanced_accuracy"}))


def test_inductive_rows_are_compared_with_inductive_references_only():
    """A transductive classical row (alignment on the test windows) is no inductive reference."""
    rng = np.random.default_rng(2)
    base = rng.uniform(0.5, 0.7, size=10)
    frame = pd.DataFrame(_rows("fm", "foundation", base + 0.02)
                         + _rows("fm_aligned", "foundation", base + 0.12, align="euclidean")
                         + _rows("riemann", "classical", base)
                         + _rows("riemann_aligned", "classical", base + 0.2, align="riemannian"))
    summary = summarize(frame, metrics=("balanced_accuracy",))
    assert dict(zip(summary["model"], summary["test_data"], strict=True)) == {
        "fm": "none", "fm_aligned": "unlabeled test windows", "riemann": "none",
        "riemann_aligned": "unlabeled test windows"}
    table = foundation_table(frame, summary, {"d": "balanced_accuracy"})
    pairs = {(r["foundation"].split(" ")[0], r["reference"].split(" ")[0], r["test_data"])
             for _, r in table.iterrows()}
    assert pairs == {("fm", "riemann", "none"),
                     ("fm_aligned", "riemann_aligned", "unlabeled test windows")}
    by = table.set_index(table["foundation"].str.split(" ").str[0])
    assert by.loc["fm", "difference"] == pytest.approx(0.02)
    assert by.loc["fm_aligned", "difference"] == pytest.approx(-0.08)


def test_index_verdict_counts_inductive_rows_against_inductive_references(tmp_path):
    from eegbench.leaderboard.site import verdict_html

    rng = np.random.default_rng(3)
    base = rng.uniform(0.5, 0.7, size=12)
    frame = pd.DataFrame(_rows("fm_good", "foundation", base + 0.1 + rng.normal(0, 0.01, 12))
                         + _rows("fm_same", "foundation", base + rng.normal(0, 0.05, 12))
                         + _rows("cnn", "specialist", base)
                         + _rows("riemann_aligned", "classical", base + 0.3, align="riemannian"))
    summary = summarize(frame, metrics=("balanced_accuracy",))
    table = foundation_table(frame, summary, {"d": "balanced_accuracy"})
    assert set(table["reference_family"]) == {"specialist"}  # no inductive classical row
    table.to_csv(tmp_path / "t_foundation_vs_references.csv", index=False)
    text = "\n".join(verdict_html(tmp_path))
    good = table.set_index(table["foundation"].str.split(" ").str[0]).loc["fm_good"]
    assert good["p_holm"] < 0.05
    assert "best inductive specialist: cnn (from_scratch) at" in text
    assert "1 are significantly above it (fm_good (linear_probe) +0.10" in text
    assert "riemann_aligned" not in text
