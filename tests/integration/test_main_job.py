"""The README's main job, end to end on 4 real eegmat subjects: the quick-start command.

``python -m eegbench +exp=loso 'dataset.subjects=[...]'`` runs ts_lr, EEGNet and CBraMod
(linear probe, random init) in two processes, each model's folds shared by two jobs, and
prints the verdict. The verdict's numbers are recomputed here from the stored rows, and a
second run resumes (every fold skipped) and prints the same verdict.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

REPO = Path(__file__).resolve().parents[2]
SUBJECTS = ["00", "01", "02", "03"]
# the quick start, with 2 epochs to keep the test cheap (the budget is not what is tested)
COMMAND = ["+exp=loso", f"dataset.subjects=[{','.join(SUBJECTS)}]", "trainer.max_epochs=2"]
LABELS = {"ts_lr": "ts_lr", "eegnet": "eegnet", "cbramod": "cbramod (linear_probe, random init)"}


def _run(runs: Path, cache: Path, data_root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "EEGBENCH_RUNS_DIR": str(runs), "EEGBENCH_CACHE_DIR": str(cache),
           "EEGBENCH_DATA_ROOT": str(data_root)}
    proc = subprocess.run([sys.executable, "-m", "eegbench", *COMMAND], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc


def _verdict(stdout: str) -> str:
    start = stdout.index("Verdict: ")
    return stdout[start:]


def _table_row(verdict: str, label: str) -> list[str]:
    for line in verdict.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 2 and cells[1] == label:
            return cells
    raise AssertionError(f"no verdict row for {label!r} in:\n{verdict}")


@pytest.fixture(scope="module")
def main_job(tmp_path_factory, data_root):
    runs, cache = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("cache")
    first = _run(runs, cache, data_root)
    rows = [json.loads(p.read_text())
            for p in sorted((runs / "loso" / "results" / "rows").glob("[!.]*.json"))]
    return runs, cache, first, rows


def test_quick_start_runs_every_model_and_prints_the_verdict(main_job):
    _, _, proc, rows = main_job
    log = proc.stdout + proc.stderr
    # one row per model and fold, written by the two shards without overlap
    assert sorted((r["model"], r["test_subject"]) for r in rows) == sorted(
        (m, s) for m in LABELS for s in SUBJECTS)
    for model in LABELS:
        for k in range(1, len(SUBJECTS) + 1):  # a progress line per fold: k/n, score, seconds
            assert re.search(rf"\[{model} seed 0\] fold {k}/{len(SUBJECTS)} subject-\d+: "
                             rf"balanced_accuracy [\d.]+ \([\d.]+ s[;)]", log), (model, k)
    assert "EEGNet: exact fused temporal-spatial forward" in log
    verdict = _verdict(proc.stdout)
    for label in LABELS.values():
        assert _table_row(verdict, label)[2] == str(len(SUBJECTS))
    cbramod = [r for r in rows if r["model"] == "cbramod"]
    assert all(r["adaptation"] == "linear_probe" and r["budget"]["converged"] for r in cbramod)


def test_verdict_numbers_come_from_the_stored_rows(main_job):
    from eegbench.leaderboard.stats import format_p, holm, subject_chance_test

    _, _, proc, rows = main_job
    verdict = _verdict(proc.stdout)
    scores = {m: {r["test_subject"]: r["metrics"]["balanced_accuracy"] for r in rows
                  if r["model"] == m} for m in LABELS}
    means = {m: np.mean(list(v.values())) for m, v in scores.items()}
    best = max(means, key=means.get)
    others = [m for m in LABELS if m != best]
    raw_p = [stats.wilcoxon(np.round([scores[m][s] - scores[best][s] for s in SUBJECTS],
                                     9)).pvalue  # differences rounded to 1e-9, as documented
             if not np.allclose([scores[m][s] - scores[best][s] for s in SUBJECTS], 0) else 1.0
             for m in others]
    adjusted = dict(zip(others, holm(raw_p), strict=True))
    for model, label in LABELS.items():
        cells = _table_row(verdict, label)
        values = [scores[model][s] for s in SUBJECTS]
        assert cells[3] == f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"
        mine = [r for r in rows if r["model"] == model]
        chance = subject_chance_test(values, 0.5)  # across subjects, exact for 4 of them
        assert cells[4].split()[0] == format_p(chance["p_value"], chance["floor"],
                                               chance["exact"])
        if model == best:
            assert cells[6] == "best" and cells[0] == "1"
        else:
            assert cells[6] == f"{adjusted[model]:.3g}"
            assert cells[5] == f"{means[model] - means[best]:+.3f}"
        if model == "eegnet":  # convergence evidence from each row's budget
            below = sum(r["budget"]["best_epoch"] < r["budget"]["max_epochs"] for r in mine)
            assert f"in {below}/{len(mine)} folds" in cells[7]


def test_second_run_resumes_and_prints_the_same_verdict(main_job, data_root):
    runs, cache, first, rows = main_job
    again = _run(runs, cache, data_root)
    log = again.stdout + again.stderr
    assert len(list((runs / "loso" / "results" / "rows").glob("[!.]*.json"))) == len(rows)
    assert log.count("already in the store, skipped") == len(rows)
    new_counts = re.findall(r"(\d+) new fold\(s\)", log)
    assert new_counts and set(new_counts) == {"0"}
    table = [line for line in _verdict(first.stdout).splitlines() if line.startswith("|")]
    assert table == [line for line in _verdict(again.stdout).splitlines()
                     if line.startswith("|")]
