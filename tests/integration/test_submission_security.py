"""A shared submission bundle never runs code, and its edits are caught (real eegmat runs).

The bundle is a real ``eegbench submission run`` of ``ts_lr`` on 4 eegmat subjects;
each test edits a copy as an attacker would (and recomputes what a checksum-aware attacker
recomputes: the rows' config hashes and ``rows_sha256``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from eegbench.hashing import sha256_of

REPO = Path(__file__).resolve().parents[2]
OFFICIAL = ("configurations:\n  - name: eegmat_4\n    overrides: [dataset=physionet_eegmat, "
            "protocol=loso, 'dataset.subjects=[00,01,02,03]', protocol.n_valid_subjects=1, "
            "'seeds=[0]']\n")


def _hydra_side() -> dict:
    from eegbench.cli.overrides import check_overrides
    from eegbench.cli.submission import compose_job

    return {"compose": compose_job, "check": check_overrides}


#: What the command line gives the submission functions (composing and the allow-list).
HYDRA_SIDE = _hydra_side()


def _env(data_root: Path, cache_root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
            "EEGBENCH_DATA_ROOT": str(data_root), "EEGBENCH_CACHE_DIR": str(cache_root)}


def _cli(module: str, args: list[str], env: dict[str, str], cwd: Path):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, data_root, cache_root) -> Path:
    """A real bundle: ts_lr, leave-one-subject-out on 4 eegmat subjects."""
    tmp = tmp_path_factory.mktemp("submission")
    (tmp / "official.yaml").write_text(OFFICIAL)
    out = tmp / "bundle"
    proc = _cli("eegbench.cli.submission", ["run", "--model", "ts_lr", "--out", str(out),
                                        "--official", str(tmp / "official.yaml")],
                _env(data_root, cache_root), tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def _copy(bundle: Path, dest: Path) -> tuple[Path, dict, list[dict]]:
    shutil.copytree(bundle, dest, ignore=shutil.ignore_patterns("runs"))
    manifest = json.loads((dest / "manifest.json").read_text())
    rows = [json.loads(line) for line in (dest / "rows.jsonl").read_text().splitlines()]
    return dest, manifest, rows


def _save(dest: Path, manifest: dict, rows: list[dict]) -> None:
    (dest / "rows.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n"
                                             for r in rows))
    manifest["rows_sha256"] = sha256_of(dest / "rows.jsonl")  # what an attacker recomputes
    (dest / "manifest.json").write_text(json.dumps(manifest))


def _malicious_overrides(marker: Path) -> list[str]:
    return ["dataset=moabb_physionetmi_lr", "dataset.moabb.dataset=subprocess:run",
            f"+dataset.moabb.dataset_params.args=[touch,'{marker}']"]


def test_a_bundle_that_names_code_is_refused_and_runs_nothing(bundle, tmp_path, data_root,
                                                               cache_root):
    from eegbench.cli.submission import compose_job
    from eegbench.evaluation.identity import identity_hash

    dest, manifest, rows = _copy(bundle, tmp_path / "evil")
    marker = tmp_path / "MARKER"
    entry = manifest["configurations"][0]
    entry["overrides"] = [*entry["overrides"], *_malicious_overrides(marker)]
    # the rows' config hash set to what the overrides compose to (composing runs nothing)
    chash = identity_hash(compose_job([f"model={manifest['model']}", *entry["overrides"],
                                          *manifest["user_overrides"]]))
    entry["config_hash"] = chash
    for row in rows:
        row["config_hash"] = chash
    _save(dest, manifest, rows)
    proc = _cli("eegbench.cli.submission", ["verify", str(dest), "--folds", "4"],
                _env(data_root, cache_root), tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "Invalid override 'dataset.moabb.dataset=subprocess:run'" in proc.stderr
    assert "may not be set by a bundle" in proc.stderr and "model.params." in proc.stderr
    assert not marker.exists()


def test_a_direct_run_naming_code_is_refused_and_runs_nothing(tmp_path, data_root, cache_root):
    marker = tmp_path / "MARKER"
    proc = _cli("eegbench", ["model=ts_lr", *_malicious_overrides(marker),
                             "dataset.subjects=[1,2,3,4]", f"paths.runs_dir={tmp_path / 'runs'}"],
                _env(data_root, cache_root), tmp_path)
    assert proc.returncode != 0
    assert "'subprocess:run' names code to import" in proc.stderr
    assert not marker.exists()


@pytest.mark.parametrize("override, why", [
    ("hydra.searchpath=[file:///tmp]", "may not be set by a bundle"),
    ("paths.cache_dir=/tmp/x", "may not be set by a bundle"),
    ("+dataset.moabb.dataset=PhysionetMI", "may not be set by a bundle"),
    ("model.params._target_=os.system", "starts with '_'"),
    ("model.params.n=${oc.env:HOME}", "not a plain value"),
    ("model.params.n={_target_: os.system}", "not a plain value"),
    ("dataset=../../etc/passwd", "not a shipped option"),
    ("dataset=no_such_dataset", "not a shipped option"),
    ("model@pkg=ts_lr", "package"),
    ("~trainer.max_epochs", "deleting"),
    ("trainer.max_epochs=1,2", "sweep"),
    ("--config-dir=/tmp", "not a key=value override"),
])
def test_bundle_overrides_outside_the_allow_list_are_refused(override, why):
    from eegbench.cli.overrides import OverrideError, check_overrides

    with pytest.raises(OverrideError, match=re.escape(why)):
        check_overrides([override], "manifest.json")
    check_overrides(["dataset=physionet_eegmat", "trainer=fast", "seeds=[0,1]",
                     "dataset.subjects=[00,01]", "+model.params.C=0.5",
                     "protocol.n_valid_subjects=1", "model.adaptation=from_scratch"],
                    "manifest.json")


def _edit_balanced_accuracy(row: dict) -> dict:
    assert row["metrics"]["balanced_accuracy"] != 0.99
    return {**row, "metrics": {**row["metrics"], "balanced_accuracy": 0.99}}


def test_an_edited_score_is_refused_whatever_the_seed(bundle, tmp_path):
    from eegbench.results.row import ResultRow, row_key
    from eegbench.submission.bundle import SubmissionError, verify_submission

    dest, manifest, rows = _copy(bundle, tmp_path / "edited")
    rows[1] = _edit_balanced_accuracy(rows[1])
    _save(dest, manifest, rows)
    key = row_key({k: rows[1][k] for k in ResultRow.key_fields})
    for seed in (None, 0, 1, 2, 3):  # refused before any fold is drawn
        with pytest.raises(SubmissionError, match=rf"row {key} .*stored balanced_accuracy "
                                                  r"0\.99 differs from"):
            verify_submission(dest, n_folds=1, seed=seed, **HYDRA_SIDE)


def test_a_bundle_row_downgraded_to_4_decimal_ties_is_refused(bundle, tmp_path):
    from eegbench.results.recompute import metrics_problem
    from eegbench.submission.bundle import SubmissionError, verify_submission

    dest, manifest, rows = _copy(bundle, tmp_path / "downgraded")
    # every probability tied at 0.5: any tie-breaking, perfect scores included, is reachable
    forged = dict(rows[0], schema_version=4,
                  metrics={"balanced_accuracy": 1.0, "cohen_kappa": 1.0, "f1_weighted": 1.0,
                           "roc_auc": 1.0},
                  predictions={"y": rows[0]["predictions"]["y"],
                               "proba": [[0.5, 0.5]] * len(rows[0]["predictions"]["y"])})
    assert metrics_problem(forged) is None  # the legacy rule alone lets it through...
    rows[0] = forged
    _save(dest, manifest, rows)
    with pytest.raises(SubmissionError, match=r"has schema 4; a bundle's rows must be of "
                                              r"schema >= 5"):
        verify_submission(dest, n_folds=1, **HYDRA_SIDE)  # ...a bundle does not


def test_an_edited_row_is_refused_when_tables_are_built(bundle, tmp_path, caplog):
    from eegbench.leaderboard.__main__ import main
    from eegbench.results.shipped import ShippedRowsError, read_jsonl, write_jsonl
    from eegbench.results.store import ResultStore

    store = shutil.copytree(bundle / "runs" / "results", tmp_path / "results")
    files = sorted((store / "rows").glob("*.json"))
    edited = _edit_balanced_accuracy(json.loads(files[0].read_text()))
    files[0].write_text(json.dumps(edited))
    with caplog.at_level(logging.WARNING):
        main(["--results", str(store), "--out", str(tmp_path / "board"), "--no-plots"])
    assert "its metrics disagree with its own predictions" in caplog.text
    assert not files[0].exists() and (store / "quarantine" / files[0].name).exists()
    kept = ResultStore(store).read_rows()  # the table was built from the other rows
    assert len(kept) == len(files) - 1 and edited["fold"] not in {r["fold"] for r in kept}
    # the same row in a shipped-rows file is an error naming the line
    rows = [json.loads(p.read_text()) for p in files[1:]] + [edited]
    write_jsonl(rows, tmp_path / "rows.jsonl")
    with pytest.raises(ShippedRowsError, match=r"line \d+: its metrics disagree .*"
                                               r"stored balanced_accuracy 0\.99"):
        read_jsonl(tmp_path / "rows.jsonl")


def test_verify_prints_its_seed_and_the_seed_repeats_the_draw(bundle, tmp_path, data_root,
                                                               cache_root, monkeypatch, caplog):
    from eegbench.submission.bundle import draw_seed, verify_submission

    assert draw_seed() != draw_seed()
    first = _cli("eegbench.cli.submission", ["verify", str(bundle), "--folds", "1"],
                 _env(data_root, cache_root), tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    seed = re.search(r"verification seed (\d+) \(repeat this draw with --seed \1\)",
                     first.stderr).group(1)
    folds = re.search(r"re-running fold\(s\) (.*)", first.stderr).group(1)
    monkeypatch.setenv("EEGBENCH_DATA_ROOT", str(data_root))
    monkeypatch.setenv("EEGBENCH_CACHE_DIR", str(cache_root))
    with caplog.at_level(logging.INFO, logger="eegbench"):
        report = verify_submission(bundle, n_folds=1, seed=int(seed), **HYDRA_SIDE)
    assert report.attrs["seed"] == int(seed)
    assert re.search(r"re-running fold\(s\) (.*)", caplog.text).group(1) == folds


ALIGNED = ("configurations:\n"
           "  - name: eegmat_calibration\n    overrides: [dataset=physionet_eegmat, "
           "protocol=loso, 'dataset.subjects=[00,01,02]', protocol.n_valid_subjects=1, "
           "protocol.align=euclidean, protocol.align_reference=calibration, 'seeds=[0]']\n"
           "  - name: eegmat_recentre\n    overrides: [dataset=physionet_eegmat, "
           "protocol=loso, 'dataset.subjects=[00,01,02]', protocol.n_valid_subjects=1, "
           "protocol.align=riemannian_recentre, 'seeds=[0]']\n")


def test_verify_refits_aligned_folds_as_the_job_ran_them(tmp_path, data_root, cache_root,
                                                         monkeypatch):
    """The re-fit leaves the calibration windows out and re-centres the covariances."""
    from eegbench.submission.bundle import verify_submission

    (tmp_path / "official.yaml").write_text(ALIGNED)
    out = tmp_path / "bundle"
    proc = _cli("eegbench.cli.submission", ["run", "--model", "ts_lr", "--out", str(out),
                                            "--official", str(tmp_path / "official.yaml")],
                _env(data_root, cache_root), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    monkeypatch.setenv("EEGBENCH_DATA_ROOT", str(data_root))
    monkeypatch.setenv("EEGBENCH_CACHE_DIR", str(cache_root))
    report = verify_submission(out, n_folds=len(rows), seed=0, **HYDRA_SIDE)
    assert report["ok"].all() and set(report["fold"]) == {r["fold"] for r in rows}
    exact = report[report["metric"] == "balanced_accuracy"]
    assert (exact["claimed"] - exact["reproduced"]).abs().max() < 1e-9
