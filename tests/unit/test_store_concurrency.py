"""The results store with several processes writing at once, and older schema versions."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import numpy as np
import pytest

from eegbench.metrics import score_predictions
from eegbench.results.row import SCHEMA_VERSION, ResultRow
from eegbench.results.store import ResultStore

N_WRITERS, N_ROWS = 4, 30


def _row(fold: int, writer: int) -> ResultRow:
    # synthetic predictions (a row's metrics must be those of its own predictions)
    rng = np.random.default_rng(fold)
    proba = rng.dirichlet([1.0, 1.0], size=5)
    predictions, metrics = score_predictions(np.array([0, 1, 0, 1, 1]), proba)
    return ResultRow(
        dataset="physionet_eegmat", task="t", protocol="fewshot", fold=f"subject-{fold:02d}",
        test_subject=f"{fold:02d}", model="ts_lr", family="classical", adaptation="from_scratch",
        seed=0, config_hash="abc", metrics=metrics, predictions=predictions,
        n_train=10, n_valid=2, n_test=5, n_parameters=3, train_seconds=0.1,
        inference_seconds=0.01, peak_rss_mb=1.0, git_revision="r", versions={"torch": "x"},
        fit_report={"writer": writer, "padding": "x" * 20000}, shots=5, draw=0,
        calibration="from_scratch", n_calib=10)


def _writer(root: str, writer: int, barrier) -> None:
    store = ResultStore(root)
    barrier.wait()  # start together to maximise contention
    # every writer writes the same keys, in a different order
    order = range(N_ROWS) if writer % 2 == 0 else reversed(range(N_ROWS))
    for fold in order:
        store.write(_row(fold, writer))


@pytest.mark.slow
def test_concurrent_writers_leave_one_complete_row_per_key(tmp_path: Path):
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(N_WRITERS)
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, barrier))
             for w in range(N_WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    store = ResultStore(tmp_path)
    assert len(store) == N_ROWS
    assert not list(store.rows_dir.glob(".tmp-*"))  # no temporary files left
    frame = store.to_frame()
    assert sorted(frame["fold"]) == [f"subject-{i:02d}" for i in range(N_ROWS)]
    assert (frame["shots"] == 5).all() and (frame["n_calib"] == 10).all()
    for path in store.rows_dir.glob("*.json"):  # each file parses: no interleaved writes
        row = json.loads(path.read_text())
        assert path.stem == ResultRow(**{k: v for k, v in row.items()}).key()


def test_rows_of_schema_v1_are_read_with_the_new_fields_defaulted(tmp_path: Path):
    store = ResultStore(tmp_path)
    row = _row(0, 0).to_dict()
    from eegbench.results.row import FIELD_DEFAULTS_LATER

    for name in FIELD_DEFAULTS_LATER:
        row.pop(name)
    row["schema_version"] = 1
    (store.rows_dir / "old.json").write_text(json.dumps(row))
    (old,) = store.read_rows()
    assert old["calibration"] is None and old["n_calib"] == 0 and old["draw"] is None
    assert old["config"] is None and old["collapsed"] is None and old["budget"] is None
    assert SCHEMA_VERSION == 5
