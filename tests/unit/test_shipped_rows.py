"""Shipped rows: a JSONL file the leaderboard reads like a store; damaged lines are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eegbench.results.shipped import ShippedRowsError, load_frame, read_jsonl, write_jsonl
from eegbench.results.store import ResultStore

REPO = Path(__file__).resolve().parents[2]


def test_shipped_rows_merge_with_a_store_and_refuse_damage(tmp_path):
    shipped = read_jsonl(REPO / "leaderboard" / "rows.jsonl")
    assert shipped and all(r["schema_version"] >= 1 for r in shipped)
    # a user's store with one row of its own merges with the shipped rows
    store = ResultStore(tmp_path / "mine")
    mine = dict(shipped[0], model="my_model", config_hash="0" * 16)
    (store.rows_dir / "mine.json").write_text(json.dumps(mine))
    frame = load_frame([REPO / "leaderboard" / "rows.jsonl", tmp_path / "mine"])
    assert len(frame) == len(shipped) + 1 and "my_model" in set(frame["model"])
    # the same fold with another (self-consistent) result in two sources is refused
    other = next(r for r in shipped if r["metrics"] != shipped[0]["metrics"])
    clash = dict(shipped[0], metrics=other["metrics"], predictions=other["predictions"],
                 n_test=other["n_test"])
    (store.rows_dir / "clash.json").write_text(json.dumps(clash))
    with pytest.raises(ShippedRowsError, match="differs between the sources"):
        load_frame([REPO / "leaderboard" / "rows.jsonl", tmp_path / "mine"])
    # a damaged line names the file and the line
    path = tmp_path / "rows.jsonl"
    write_jsonl(shipped[:3], path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1][:40], lines[2]]) + "\n")
    with pytest.raises(ShippedRowsError, match=r"rows.jsonl, line 2: not valid JSON"):
        read_jsonl(path)


def test_a_table_mixing_subject_sets_or_data_versions_says_so(tmp_path):
    from eegbench.leaderboard.report import build

    shipped = [r for r in read_jsonl(REPO / "leaderboard" / "rows.jsonl")
               if r["dataset"] == "ssvep_exo_kalunga2016" and r["protocol"] == "loso"
               and r["model"] == "fb_ts_lr"]
    store = ResultStore(tmp_path / "mine")
    # a user's 6-subject run of another model, on another data version
    for row in shipped[:6]:
        mine = dict(row, model="my_model", config_hash="1" * 16, data_fingerprint="other")
        (store.rows_dir / f"{row['fold']}.json").write_text(json.dumps(mine))
    rows_file = tmp_path / "ssvep.jsonl"
    write_jsonl(shipped, rows_file)
    paths = build([rows_file, tmp_path / "mine"], tmp_path / "board", "mixed", plots=False)
    text = paths["md"].read_text()
    assert "tested on different subject sets (sizes [6, 12])" in text
    assert "rows come from 2 different data versions" in text
    alone = build(rows_file, tmp_path / "board", "alone", plots=False)
    assert "WARNING" not in alone["md"].read_text()


def test_every_shipped_row_passes_the_metrics_against_predictions_check():
    from eegbench.results.recompute import metrics_problem

    rows = [json.loads(line) for line in
            (REPO / "leaderboard" / "rows.jsonl").read_text().splitlines() if line.strip()]
    assert rows and all(r["predictions"] for r in rows)
    problems = [p for p in map(metrics_problem, rows) if p is not None]
    assert problems == []
