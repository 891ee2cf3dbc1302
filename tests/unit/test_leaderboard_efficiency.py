"""The leaderboard shows E_param = AUC / log10(parameters)."""

from __future__ import annotations

import pandas as pd
import pytest

from eegbench.leaderboard.tables import summarize, to_markdown


def test_e_param_column():
    rows = []
    for model, n_params, auc in [("small", 1_000, 0.8), ("big", 1_000_000, 0.9)]:
        for subject in ["00", "01"]:
            rows.append({"dataset": "d", "task": "t", "protocol": "loso", "model": model,
                         "family": "specialist", "adaptation": "from_scratch",
                         "config_hash": model, "test_subject": subject, "seed": 0,
                         "n_parameters": n_params, "train_seconds": 1.0,
                         "inference_seconds": 0.1, "peak_rss_mb": 100.0,
                         "metric.balanced_accuracy": 0.7, "metric.roc_auc": auc})
    summary = summarize(pd.DataFrame(rows), metrics=("balanced_accuracy", "roc_auc"))
    e = summary.set_index("model")["e_param"]
    assert e["small"] == pytest.approx(0.8 / 3)
    assert e["big"] == pytest.approx(0.9 / 6)
    table = to_markdown(summary, ["balanced_accuracy", "roc_auc"])
    assert "E_param" in table and "0.267" in table


def test_setting_column_names_what_differs_between_configs_of_a_model():
    from eegbench.leaderboard.tables import config_settings

    def config(epochs):
        return {"model": {"name": "eegnet"}, "trainer": {"max_epochs": epochs, "lr": 0.001}}

    rows = []
    for chash, model, cfg in [("a", "eegnet", config(3)), ("b", "eegnet", config(30)),
                              ("c", "ts_lr", {"model": {"name": "ts_lr"}}), ("d", "old", None)]:
        for subject in ["00", "01"]:
            rows.append({"dataset": "d", "task": "t", "protocol": "loso", "model": model,
                         "family": "specialist", "adaptation": "from_scratch",
                         "config_hash": chash, "test_subject": subject, "seed": 0,
                         "n_parameters": 1000, "train_seconds": 1.0, "inference_seconds": 0.1,
                         "peak_rss_mb": 1.0, "config": cfg,
                         "metric.balanced_accuracy": 0.6, "metric.roc_auc": 0.7})
    frame = pd.DataFrame(rows)
    assert config_settings(frame) == {"a": "trainer.max_epochs=3", "b": "trainer.max_epochs=30"}
    summary = summarize(frame, metrics=("balanced_accuracy", "roc_auc"))
    assert summary.set_index("config_hash")["setting"].to_dict() == {
        "a": "trainer.max_epochs=3", "b": "trainer.max_epochs=30", "c": "", "d": ""}
    table = to_markdown(summary, ["balanced_accuracy", "roc_auc"])
    assert "| setting |" in table and "trainer.max_epochs=30" in table
    # a covariance pipeline never reads the trainer section: its label leaves it out unless
    # nothing else tells two configurations apart
    classical = pd.DataFrame([{**r, "model": "ts_lr", "family": "classical",
                               "config": {**r["config"], "protocol": {"align": align}},
                               "config_hash": r["config_hash"] + align}
                              for r in rows[:4] for align in ("none", "euclidean")])
    pair = classical[classical["config_hash"].isin(["anone", "beuclidean"])]
    assert config_settings(pair) == {"anone": "protocol.align=none",
                                     "beuclidean": "protocol.align=euclidean"}
    assert config_settings(classical[classical["config_hash"].str.endswith("none")]) == {
        "anone": "trainer.max_epochs=3", "bnone": "trainer.max_epochs=30"}


def test_trainable_share_and_loss_fell_columns():
    """LoRA-like rows train 1 % of the parameters; one of their two folds' loss did not fall."""
    rows = []
    for model, n_trainable, losses in [("lora", 1_000, [(1.0, 0.5), (0.7, 0.9)]),
                                       ("ts_lr", None, [(None, None), (None, None)])]:
        for subject, (first, last) in zip(["00", "01"], losses, strict=True):
            rows.append({"dataset": "d", "task": "t", "protocol": "loso", "model": model,
                         "family": "foundation", "adaptation": "lora",
                         "config_hash": model, "test_subject": subject, "seed": 0,
                         "n_parameters": 100_000, "n_trainable": n_trainable,
                         "train_seconds": 1.0, "inference_seconds": 0.1, "peak_rss_mb": 1.0,
                         "fit_report": {"train_loss_first": first, "train_loss_last": last},
                         "metric.balanced_accuracy": 0.6, "metric.roc_auc": 0.7})
    summary = summarize(pd.DataFrame(rows), metrics=("balanced_accuracy", "roc_auc"))
    by_model = summary.set_index("model")
    assert by_model.loc["lora", "loss_fell"] == "1/2"
    assert by_model.loc["ts_lr", "loss_fell"] == "n/a"
    table = to_markdown(summary, ["balanced_accuracy", "roc_auc"])
    assert "| trainable |" in table and "1,000 (1.00%)" in table
    assert "| train loss fell |" in table and "| 1/2 |" in table
