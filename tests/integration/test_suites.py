"""Suites: every cell composes and validates, the committed scorecard rebuilds from the shipped
rows, the statistics are those of the rows, and ``eegbench +suite=...`` runs a cell end to end.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir
from scipy import stats

from eegbench.cli.spec import check_config
from eegbench.leaderboard.scorecard import build_scorecard, sign_flip_p
from eegbench.leaderboard.scorecard_render import committed_suite_rows, write_scorecard
from eegbench.leaderboard.suite_spec import (
    Suite,
    SuiteError,
    available_suites,
    cell_identity,
    load_suite,
    row_matches,
)
from eegbench.resources import config_dir
from eegbench.results.shipped import read_sources
from eegbench.suites import cell_overrides, run_suite, split_suite_args

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "leaderboard" / "scorecards"


@pytest.fixture(scope="module")
def shipped_rows():
    return read_sources(committed_suite_rows(COMMITTED, "eegbench-local-v1"))


@pytest.fixture(scope="module")
def local_card(shipped_rows):
    return build_scorecard(load_suite("eegbench-local-v1"), shipped_rows)


def _compose(overrides):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_shipped_suites_are_listed_and_valid():
    assert {"eegbench-local-v1", "eegbench-core-v1"} <= set(available_suites())
    for name in available_suites():
        suite = load_suite(name)
        assert suite.label == f"{name}@{suite.version}"


@pytest.mark.parametrize("name", ["eegbench-local-v1", "eegbench-core-v1"])
def test_every_local_cell_composes_into_a_valid_job(name):
    suite = load_suite(name)
    for cell in suite.cells:
        if cell.source not in ("local", "hub"):
            continue
        cfg = _compose(cell_overrides(suite, cell) + ["model=ts_lr"])
        spec = check_config(cfg, "run")
        assert spec.dataset.name == cell.dataset and spec.protocol.name == cell.protocol
        assert spec.experiment.name == suite.name
        assert f"{spec.suite.name}@{spec.suite.version}" == suite.label
        assert cell_identity(cell).preprocess == dict(cfg.preprocess)


def test_core_suite_covers_the_field_with_pinned_hub_revisions():
    suite = load_suite("eegbench-core-v1")
    assert len({c.dataset for c in suite.cells}) >= 12
    assert len({c.paradigm for c in suite.cells}) >= 9
    hub = [c for c in suite.cells if c.source == "hub"]
    assert len(hub) == 11 and len({c.hub.repo_id for c in hub}) == 11
    assert all(len(c.hub.revision) == 40 for c in hub)
    # the published split of the CBraMod / OpenEEGBench eegmat copy
    zyma = suite.cell("arithmetic_zyma2019_fixed_split")
    assert zyma.hub.split["test"] == ["32", "33", "34", "35"]
    # a hub cell runs through its dataset configuration (the hub bridge), pinned alike
    spec = check_config(_compose(cell_overrides(suite, zyma) + ["model=ts_lr"]), "run")
    assert spec.dataset.hub.revision == zyma.hub.revision
    assert spec.dataset.fixed_split.test == zyma.hub.split["test"]
    moabb = {c.dataset for c in suite.cells if c.source == "local"}
    assert {"moabb_physionetmi_lr", "moabb_bnci2014_009_p300", "moabb_ssvepexo"} <= moabb


def _suite_yaml(tmp_path, **change):
    raw = yaml.safe_load((config_dir() / "suite" / "eegbench-core-v1.yaml").read_text())
    raw["name"] = "broken"
    for key, value in change.items():
        if key == "cell":
            raw["cells"][0].update(value)
        else:
            raw[key] = value
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"cell": {"hub": {"repo_id": "braindecode/x", "revision": "main"}}}, "40-hex"),
    ({"cell": {"hub": {"repo_id": "braindecode/arithmetic_zyma2019", "revision": "a" * 40}}},
     "hub revision .* differs from conf/dataset/hub_arithmetic_zyma2019.yaml"),
    ({"version": "1.0"}, "MAJOR.MINOR.PATCH"),
    ({"cell": {"id": "bcic2a_fixed_split"}}, "duplicated cell ids"),
    ({"cell": {"source": "local", "hub": None, "dataset": "no_such_set"}},
     "no dataset configuration 'no_such_set'"),
    ({"cell": {"primary_metric": "accuracy"}}, "primary_metric"),
    ({"cell": {"baselines": ["ts_lr", "not_a_model"]}}, "no model configuration"),
])
def test_invalid_suites_are_refused_with_the_reason(tmp_path, change, message):
    with pytest.raises(SuiteError, match=message):
        load_suite(_suite_yaml(tmp_path, **change))
    with pytest.raises(SuiteError, match="Allowed values are"):
        load_suite("no-such-suite")


def test_match_rule_keeps_exact_identity_only(shipped_rows):
    cell = load_suite("eegbench-local-v1").cell("eegmat_loso")
    identity = cell_identity(cell)
    matched = [r for r in shipped_rows if row_matches(identity, r)]
    eegmat = [r for r in shipped_rows if r["dataset"] == "physionet_eegmat"]
    assert matched and len(matched) < len(eegmat)
    assert {r["protocol"] for r in matched} == {"loso"}  # no audit variants, no fixed split
    assert all(not (r["config"]["protocol"].get("align")) for r in matched)
    aligned = [r for r in eegmat
               if r["protocol"] == "loso" and r["config"]["protocol"].get("align")]
    assert aligned and not any(row_matches(identity, r) for r in aligned)
    other = dict(aligned[0], config={**aligned[0]["config"], "protocol": {
        "name": "loso", "n_valid_subjects": 2}, "preprocess": {
        **aligned[0]["config"]["preprocess"], "sfreq": 256.0}})
    assert not row_matches(identity, other)  # another preprocessing is another cell


def test_scorecard_numbers_are_those_of_the_rows(local_card, shipped_rows):
    cells = local_card.cells
    ts = cells[(cells["cell"] == "ssvep_loso") & (cells["configuration"] == "ts_lr")].iloc[0]
    identity = cell_identity(load_suite("eegbench-local-v1").cell("ssvep_loso"))
    rows = [r for r in shipped_rows if row_matches(identity, r) and r["model"] == "ts_lr"]
    per_subject = {}
    for r in rows:
        per_subject.setdefault(r["test_subject"], []).append(r["metrics"]["balanced_accuracy"])
    means = np.array([np.mean(v) for _, v in sorted(per_subject.items())])
    assert ts["n_units"] == len(means) and ts["mean"] == pytest.approx(means.mean())
    assert ts["chance"] == pytest.approx(0.25)  # four classes
    assert ts["p_chance"] == pytest.approx(sign_flip_p(means, 0.25))
    best = cells[(cells["cell"] == "ssvep_loso") & (cells["configuration"] == ts["best_baseline"])]
    assert best["mean"].iloc[0] >= ts["mean"]
    # every cell's ranks span 0 (best) .. 1 (last)
    for _, block in cells.groupby("cell"):
        assert block["normalized_rank"].min() == 0 and block["normalized_rank"].max() == 1
    # the MEG cell is empty in the shipped rows only if no row matches it
    assert set(local_card.empty) <= {c.id for c in local_card.suite.cells}
    assert str(local_card.suite.label) in local_card.headline


def test_sign_flip_test_is_exact_for_few_units():
    values = [0.6, 0.7, 0.55, 0.65, 0.52]
    # every difference positive: only the all-positive of 2**5 sign patterns reaches it
    assert sign_flip_p(values, 0.5) == pytest.approx(1 / 32)
    assert sign_flip_p([0.5, 0.5, 0.5], 0.5) == 1.0
    res = stats.wilcoxon(np.array(values) - 0.5, alternative="greater")
    assert res.pvalue == pytest.approx(1 / 32)


def test_committed_scorecard_rebuilds_from_shipped_rows(tmp_path, local_card):
    """``--committed --suite`` writes exactly the committed files (the card of the fixture is
    :func:`build_suite_scorecard`'s, from the same rows)."""
    paths = write_scorecard(local_card, tmp_path / "scorecards",
                            "python -m eegbench.leaderboard --committed --suite "
                            "eegbench-local-v1")
    for kind in ("md", "csv", "html"):
        assert paths[kind].read_text() == (COMMITTED / paths[kind].name).read_text(), kind
    assert paths["png"].stat().st_size > 10_000


@pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get(
    "EEGBENCH_REQUIRE_CHROMIUM"), reason="chromium is not installed")
def test_committed_scorecard_page_loads_in_chromium():
    import importlib.util

    spec = importlib.util.spec_from_file_location("check_site", REPO / "scripts" /
                                                  "check_site.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    verdicts = check.check_site(COMMITTED, shutil.which("chromium"), require_index=False)
    pages = {Path(v["page"]).name: v for v in verdicts}
    assert pages["eegbench-local-v1.html"]["problems"] == []
    assert pages["eegbench-local-v1.html"]["tables"] > 0


def test_suite_arguments_are_split_and_cell_settings_refused():
    name, cells, rest = split_suite_args(["+suite=eegbench-local-v1", "model=ts_lr",
                                          "+suite_cells=[meg_within_subject]"])
    assert (name, cells, rest) == ("eegbench-local-v1", ["meg_within_subject"], ["model=ts_lr"])
    with pytest.raises(SuiteError, match="fixes"):
        run_suite("eegbench-local-v1", ["dataset=physionet_eegmat"], lambda o: None)
    seen = []
    assert run_suite("eegbench-local-v1", ["model=ts_lr"], seen.append) == []
    assert len(seen) == len(load_suite("eegbench-local-v1").cells)


def test_suite_command_runs_a_cell_and_records_the_suite(tmp_path, monkeypatch):
    from eegbench.__main__ import main

    monkeypatch.setenv("EEGBENCH_RUNS_DIR", str(tmp_path / "runs"))
    status = main(["+suite=eegbench-local-v1", "model=ts_lr", "+suite_cells=meg_within_subject",
                   "trainer.num_threads=1"])
    assert status == 0
    store = tmp_path / "runs" / "eegbench-local-v1" / "results"
    rows = [json.loads(p.read_text()) for p in store.rglob("*.json")
            if p.parent.name != "failures"]
    rows = [r for r in rows if "metrics" in r]
    assert rows and {r["suite"] for r in rows} == {"eegbench-local-v1@1.0.0"}
    assert {r["dataset"] for r in rows} == {"meg_elekta_3ch"}
    card = build_scorecard(load_suite("eegbench-local-v1"), rows)
    assert "meg_within_subject" not in card.empty and len(card.empty) == 5
    # a re-run resumes: no new fold
    assert main(["+suite=eegbench-local-v1", "model=ts_lr", "+suite_cells=meg_within_subject",
                 "trainer.num_threads=1"]) == 0
    assert len([p for p in store.rglob("*.json") if "metrics" in p.read_text()]) == len(rows)


def test_suite_model_validates_without_files():
    raw = yaml.safe_load((config_dir() / "suite" / "eegbench-local-v1.yaml").read_text())
    suite = Suite.model_validate(raw)
    assert [c.id for c in suite.cells] == [c["id"] for c in raw["cells"]]


def test_submission_configurations_of_a_suite_are_bundle_safe_jobs():
    from eegbench.cli.overrides import check_overrides
    from eegbench.cli.submission import compose_config
    from eegbench.submission.bundle import suite_configurations, suite_file

    suite = load_suite("eegbench-local-v1")
    entries = suite_configurations(suite.name)
    assert [e["name"] for e in entries] == [c.id for c in suite.cells]
    assert suite_file(suite.name).name == "eegbench-local-v1.yaml"
    for entry in entries:
        check_overrides(entry["overrides"], entry["name"])  # verification composes them again
        spec = check_config(compose_config(["model=ts_lr", *entry["overrides"]]), "run")
        assert f"{spec.suite.name}@{spec.suite.version}" == suite.label
        assert spec.dataset.name == suite.cell(entry["name"]).dataset
