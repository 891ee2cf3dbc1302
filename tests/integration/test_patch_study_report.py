"""The patch-embedding table: budgets, a chance test and paired differences (real P300 rows)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from eegbench.resources import config_dir


@pytest.mark.slow
def test_patch_table_from_real_leave_one_run_out_rows(tmp_path, data_root, cache_root):
    from eegbench.evaluation.job import run_experiment
    from eegbench.results.store import ResultStore
    from eegbench.studies.report import render

    runs = tmp_path / "runs"
    for model in ("patch_tf_channel_mix", "xdawn_ts_lr"):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("config", overrides=[
                "dataset=muse_auditory_p300_eegnotebooks", "protocol=within_run",
                "dataset.subjects=['1']", f"model={model}", f"paths.data_root={data_root}",
                f"paths.cache_dir={cache_root}", f"paths.runs_dir={runs}",
                "trainer.max_epochs=2", "trainer.patience=0", "trainer.num_threads=1"])
        assert len(run_experiment(cfg)) >= 2

    written = render(runs, tmp_path / "studies")
    text = written["patch_embeddings"].read_text()
    assert "### muse_auditory_p300_eegnotebooks, within_run" in text
    assert "| p vs chance |" in text and "| Δ vs xdawn_ts_lr |" in text
    assert any(line.startswith("| patch_tf_channel_mix |") for line in text.splitlines())

    # the budget and training-loss cells report what the stored rows ran
    frame = ResultStore(runs / "default" / "results").to_frame()
    table = pd.read_csv(tmp_path / "studies" / "patch_embeddings.csv")
    patch = table.loc[table["model"] == "patch_tf_channel_mix"].iloc[0]
    stored = frame[frame["model"] == "patch_tf_channel_mix"]
    ran = [b["epochs_run"] for b in stored["budget"]]
    budget = re.fullmatch(r"max (\d+) epochs, no early stopping; ran (\d+) \(median\), "
                          r"best epoch (\d+)", patch["budget"])
    assert budget, patch["budget"]
    assert int(budget[1]) == 2 and int(budget[2]) == int(np.median(ran))
    losses = [(r["train_loss_first"], r["train_loss_last"]) for r in stored["fit_report"]]
    fell = re.search(r"\((\d+)/(\d+) fell\)", patch["train_loss"])
    assert (int(fell[1]), int(fell[2])) == (sum(b < a for a, b in losses), len(losses))

    # the paired difference is the mean over shared folds of the stored scores
    per_fold = frame.pivot_table(index="fold", columns="model",
                                 values="metric.balanced_accuracy")
    expected = float((per_fold["patch_tf_channel_mix"] - per_fold["xdawn_ts_lr"]).mean())
    got = table.loc[table["model"] == "patch_tf_channel_mix", "delta_vs_reference"].item()
    assert abs(got - expected) < 1e-4
    assert ((table["p_chance"] > 0) & (table["p_chance"] <= 1)).all()
