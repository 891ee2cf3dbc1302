"""Foundation models are compared with the best specialist and the best classical pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eegbench.leaderboard.sections import foundation_section, foundation_table
from eegbench.leaderboard.tables import summarize


def _rows(model, family, scores):
    return [{"dataset": "d", "task": "t", "protocol": "loso", "model": model, "family": family,
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
