"""Verdict helpers: labels, job records, fold shards.

The verdict's numbers are checked against real rows in tests/integration/test_main_job.py.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from eegbench.cli.verdict import JOB_RECORD, read_job_records, verdict_text
from eegbench.evaluation.job import parse_fold_shard
from eegbench.leaderboard.verdict import format_verdict, model_label


def test_labels_say_random_init_and_the_adaptation():
    config = {"model": {"params": {"init": "random"}}}
    assert model_label("cbramod", "linear_probe", config) == \
        "cbramod (linear_probe, random init)"
    assert model_label("cbramod", "linear_probe", {"model": {"params": {}}}) == \
        "cbramod (linear_probe)"
    assert model_label("eegnet", "from_scratch", None) == "eegnet"


def test_jobs_without_rows_are_named(tmp_path):
    (tmp_path / "0_model=eegnet").mkdir()
    (tmp_path / "0_model=eegnet" / JOB_RECORD).write_text(json.dumps(
        {"job": "model=eegnet", "results_dir": str(tmp_path / "results"), "model": "eegnet",
         "keys": [], "status": "no rows"}))
    (tmp_path / "1_model=ts_lr").mkdir()
    (tmp_path / "1_model=ts_lr" / JOB_RECORD).write_text("{not json")  # left out, warned
    records = read_job_records(tmp_path)
    assert [r["job"] for r in records] == ["model=eegnet"]
    text = verdict_text(records)
    assert "No result rows" in text and "No rows from job model=eegnet" in text
    assert "No result rows" in format_verdict(pd.DataFrame())


@pytest.mark.parametrize("value", ["0/2", [2, 2], [0, 0], [-1, 2], [0, 1, 2], [True, 2]])
def test_invalid_fold_shards_are_refused(value):
    with pytest.raises(ValueError, match="Invalid value for the 'fold_shard' parameter"):
        parse_fold_shard(value)


def test_fold_shards():
    assert parse_fold_shard(None) is None
    assert parse_fold_shard([1, 3]) == (1, 3)


def test_terminal_verdict_prints_p_floors_as_text_not_html():
    from pathlib import Path

    from eegbench.results.store import rows_frame

    shipped = Path(__file__).resolve().parents[2] / "leaderboard" / "rows.jsonl"
    rows = [r for r in map(json.loads, shipped.read_text().splitlines())
            if r["dataset"] == "physionet_eegmat" and r["protocol"] == "loso"
            and r["model"] in ("ts_lr", "luna")]
    text = format_verdict(rows_frame(rows))
    assert "&lt;" not in text
    assert "< 0.0001" in text  # luna's sign-flip p is below the Monte-Carlo floor
