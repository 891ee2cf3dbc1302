"""The mean rank across datasets ranks configurations (table lines), not models (shipped rows)."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

from eegbench.leaderboard.ranks import aggregate_ranks
from eegbench.leaderboard.report import filter_frame
from eegbench.leaderboard.tables import prepare, summarize
from eegbench.results.shipped import load_frame, read_jsonl, rows_frame

REPO = Path(__file__).resolve().parents[2]
ROWS = REPO / "leaderboard" / "rows.jsonl"


def _loso(datasets: list[str] | None = None) -> pd.DataFrame:
    frame = filter_frame(load_frame(ROWS), ["loso"], datasets, "exclude",
                         ["classical", "specialist"])
    return prepare(frame)


def test_one_dataset_every_table_line_is_its_own_configuration():
    frame = _loso(["physionet_eegmat"])
    summary = summarize(frame, test="wilcoxon")
    ranks = aggregate_ranks(summary, frame)
    assert len(ranks) == len(summary)  # no line merged into another
    assert (ranks["n_datasets"] == 1).all()
    # the rank is the table's rank (ties aside): a model with several lines keeps each one
    table = summary.groupby("test_data")["primary_mean"].rank(ascending=False)
    assert sorted(ranks["mean_rank"]) == sorted(table)
    several = ranks["model"].value_counts()
    for model in several[several > 1].index:  # told apart by their settings
        settings = ranks.loc[ranks["model"] == model, "setting"]
        assert settings.ne("").all() and settings.is_unique


@pytest.mark.slow
def test_the_same_settings_on_several_datasets_are_one_configuration():
    frame = _loso()
    summary = summarize(frame, test="wilcoxon")
    ranks = aggregate_ranks(summary, frame)
    # every line of a table is counted once, in exactly one configuration
    assert ranks["n_datasets"].sum() == len(summary)
    eegnet = ranks[ranks["model"] == "eegnet"]
    assert len(eegnet) == 1 and eegnet["n_datasets"].iloc[0] == summary.loc[
        summary["model"] == "eegnet", "dataset"].nunique()


def test_a_quick_subset_run_does_not_change_the_main_configurations_rank():
    # a 4-subject copy of the eegmat ts_lr rows (another dataset.subjects, so another
    # configuration) must not move ts_lr's own line: configurations are not averaged per model
    rows = [r for r in read_jsonl(ROWS) if r["protocol"] == "loso" and r["dataset"] ==
            "physionet_eegmat" and r["model"] in ("ts_lr", "eegnet")
            and (r.get("config") or {}).get("protocol", {}).get("align") is None]
    quick = []
    for row in rows:
        if row["model"] == "ts_lr" and row["test_subject"] in ("00", "01", "02", "03"):
            copy_row = copy.deepcopy(row)
            copy_row["config"]["dataset"]["subjects"] = ["00", "01", "02", "03"]
            copy_row["config_hash"] = "4" * 16
            copy_row["metrics"]["balanced_accuracy"] = 0.0  # worst possible
            quick.append(copy_row)
    alone, mixed = prepare(rows_frame(rows)), prepare(rows_frame(rows + quick))
    before = aggregate_ranks(summarize(alone), alone)
    after = aggregate_ranks(summarize(mixed), mixed)
    assert len(after) == len(before) + 1  # the subset run is a configuration of its own
    subset = after["setting"].str.contains("dataset.subjects=['00', '01', '02', '03']",
                                           regex=False)
    assert subset.sum() == 1 and after.loc[subset, "mean_rank"].iloc[0] == len(after)
    for model, rank in before.set_index("model")["mean_rank"].items():
        assert after.loc[~subset & (after["model"] == model), "mean_rank"].item() == rank
