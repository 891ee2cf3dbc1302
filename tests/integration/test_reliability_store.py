"""Results-store integrity on real recordings: damaged rows are quarantined and recomputed,
and a row's identity includes the data, the model code and the checkpoint it came from.
(Typos in the configuration: tests/integration/test_config_spec.py.)"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import yaml
from conftest import link_or_copy
from hydra import compose, initialize_config_dir

from eegbench.resources import config_dir
from eegbench.results.store import ResultStore

EEGMAT = "physionet_eegmat"


def _cfg(tmp_path: Path, data_root: Path, cache_root: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[
            f"paths.data_root={data_root}", f"paths.cache_dir={cache_root}",
            f"paths.runs_dir={tmp_path / 'runs'}", *overrides])


def _run(cfg, caplog):
    from eegbench.evaluation.job import run_experiment

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="eegbench"):
        run_experiment(cfg)
    return caplog.text


def _store(tmp_path: Path) -> Path:
    """The results store of runs without +exp (experiment.name=default)."""
    return tmp_path / "runs" / "default" / "results"


def _row_files(tmp_path: Path) -> list[Path]:
    return sorted((_store(tmp_path) / "rows").glob("[!.]*.json"))


@pytest.fixture
def eegmat_store(tmp_path, data_root, cache_root, caplog):
    """ts_lr, leave-one-subject-out on 4 real eegmat subjects (a few seconds)."""
    cfg = _cfg(tmp_path, data_root, cache_root, "model=ts_lr", f"dataset={EEGMAT}",
               "dataset.subjects=[00,01,02,03]")
    _run(cfg, caplog)
    return cfg


def test_damaged_rows_are_quarantined_and_their_folds_recomputed(eegmat_store, tmp_path,
                                                                caplog):
    files = _row_files(tmp_path)
    assert len(files) == 4
    good = {p.name: json.loads(p.read_text()) for p in files}
    files[0].write_text("")                                    # empty
    files[1].write_text(files[1].read_text()[:150])            # truncated
    files[2].write_bytes(b"\x00\xff garbage \x13")             # garbled
    log = _run(eegmat_store, caplog)
    for damaged in files[:3]:
        assert f"result row {damaged} is damaged" in log
    assert "3 new fold(s)" in log
    rows = {p.name: json.loads(p.read_text()) for p in _row_files(tmp_path)}
    assert set(rows) == set(good)  # the same folds, each once
    for name in (f.name for f in files[:3]):
        assert rows[name]["metrics"] == pytest.approx(good[name]["metrics"])
    quarantined = sorted(p.name for p in (_store(tmp_path) / "quarantine").iterdir())
    assert quarantined == sorted(f.name for f in files[:3])


def test_leaderboard_survives_a_damaged_row(eegmat_store, tmp_path, caplog):
    from eegbench.leaderboard.__main__ import main

    files = _row_files(tmp_path)
    files[0].write_text('{"dataset": "physionet_eegmat", "metrics": ')
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        main(["--results", str(_store(tmp_path)), "--out", str(tmp_path / "lb"), "--name",
              "loso", "--no-plots"])
    assert f"result row {files[0]} is damaged" in caplog.text
    table = (tmp_path / "lb" / "loso.md").read_text()
    assert f"rows: {len(files) - 1} from" in table


def _link_subjects(data_root: Path, dst: Path, subjects: list[str]) -> None:
    (dst / EEGMAT).mkdir(parents=True, exist_ok=True)
    for subject in subjects:
        for path in sorted((data_root / EEGMAT).glob(f"Subject{subject}_*.edf")):
            target = dst / EEGMAT / path.name
            if not target.exists():
                link_or_copy(path, target)


@pytest.mark.slow
def test_added_recordings_change_the_data_fingerprint_and_recompute(tmp_path, data_root,
                                                                    caplog):
    """eegmat grows from 4 to 5 subjects: the 4 old folds are recomputed, not reused."""
    data = tmp_path / "data"
    _link_subjects(data_root, data, ["00", "01", "02", "03"])
    cfg = _cfg(tmp_path, data, tmp_path / "cache", "model=ts_lr", f"dataset={EEGMAT}")
    log = _run(cfg, caplog)
    assert "4 new fold(s), 0 skipped" in log
    first = {json.loads(p.read_text())["data_fingerprint"] for p in _row_files(tmp_path)}
    assert len(first) == 1 and None not in first
    _link_subjects(data_root, data, ["04"])
    log = _run(cfg, caplog)
    assert "5 new fold(s), 0 skipped" in log  # old code: 1 new, 4 "already in the store"
    assert "over 5 fold(s)" in log  # the summary leaves the 4 superseded rows out
    rows = [json.loads(p.read_text()) for p in _row_files(tmp_path)]
    assert len(rows) == 9
    second = {r["data_fingerprint"] for r in rows} - first
    assert len(second) == 1
    assert sorted(r["test_subject"] for r in rows if r["data_fingerprint"] in second) == \
        ["00", "01", "02", "03", "04"]
    # the same data again: nothing recomputed
    assert "0 new fold(s), 5 skipped" in _run(cfg, caplog)
    # the leaderboard shows the 5 current rows, not an average with the superseded ones
    from eegbench.leaderboard.__main__ import main

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        main(["--results", str(_store(tmp_path)), "--out", str(tmp_path / "lb"), "--name",
              "loso", "--no-plots"])
    assert "4 row(s) computed from older data or code are superseded" in caplog.text
    assert "rows: 5 from" in (tmp_path / "lb" / "loso.md").read_text()


def test_changed_model_code_recomputes(eegmat_store, tmp_path, caplog, monkeypatch):
    import eegbench.evaluation.identity

    before = {json.loads(p.read_text())["code_fingerprint"] for p in _row_files(tmp_path)}
    assert len(before) == 1 and next(iter(before)).startswith("eegbench ")
    n = len(_row_files(tmp_path))
    monkeypatch.setattr(eegbench.evaluation.identity, "model_code_fingerprint",
                        lambda name: "eegbench 0.1.0 src:0123456789abcdef")
    log = _run(eegmat_store, caplog)
    assert f"{n} new fold(s), 0 skipped" in log
    assert len(_row_files(tmp_path)) == 2 * n


def test_code_fingerprint_follows_the_model_source(tmp_path, monkeypatch):
    """Editing the module that defines a model changes its fingerprint."""
    import importlib
    import sys

    from eegbench.evaluation.identity import model_code_fingerprint
    from eegbench.models.base import MODELS

    pkg = tmp_path / "fp_plugin_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    source = pkg / "model.py"
    source.write_text("def build(C: float = 1.0, **_):\n    return C\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("fp_plugin_pkg.model")
    MODELS.register("fp_test_model", module.build, origin="test")
    try:
        first = model_code_fingerprint("fp_test_model")
        source.write_text("def build(C: float = 2.0, **_):\n    return C\n")
        importlib.reload(module)
        MODELS.unregister("fp_test_model")
        MODELS.register("fp_test_model", module.build, origin="test")
        second = model_code_fingerprint("fp_test_model")
    finally:
        MODELS.unregister("fp_test_model")
        sys.modules.pop("fp_plugin_pkg.model", None)
    assert first != second and first.split(" src:")[0] == second.split(" src:")[0]


def test_checkpoint_sha256_is_part_of_the_identity(tmp_path, eegmat_store, caplog,
                                                   monkeypatch):
    from eegbench.evaluation.identity import checkpoint_fingerprint
    from eegbench.results.row import ResultRow

    ckpt = tmp_path / "weights.pt"
    ckpt.write_bytes(b"first weights")
    first = checkpoint_fingerprint({"checkpoint": str(ckpt)})
    ckpt.write_bytes(b"other weights")
    second = checkpoint_fingerprint({"checkpoint": str(ckpt)})
    assert first.startswith("sha256:") and first != second
    row = ResultRow(**{k: v for k, v in json.loads(_row_files(tmp_path)[0].read_text()).items()
                       if k in ResultRow.__dataclass_fields__})
    assert row.key() == _row_files(tmp_path)[0].stem
    assert ResultRow(**{**row.to_dict(), "checkpoint": first}).key() != row.key()
    assert ResultRow(**{**row.to_dict(), "checkpoint": first}).key() != \
        ResultRow(**{**row.to_dict(), "checkpoint": second}).key()


def test_result_files_are_group_readable(eegmat_store, tmp_path):
    for path in _row_files(tmp_path):
        assert os.stat(path).st_mode & 0o040
    store = ResultStore(_store(tmp_path))
    assert len(store.read_rows()) == len(_row_files(tmp_path))


def test_every_shipped_model_config_passes_the_parameter_check():

    from omegaconf import OmegaConf

    from eegbench.models.base import check_model_params
    from eegbench.resources import config_dir

    for path in sorted((config_dir() / "model").glob("*.yaml")):
        if path.stem == "plugin":  # the template for models without a yaml names no model
            continue
        spec = OmegaConf.to_container(OmegaConf.load(path), resolve=True)  # e.g. braindecode.<arch>
        check_model_params(spec["name"], dict(spec.get("params") or {}))


def test_failure_records_of_different_seeds_do_not_overwrite(tmp_path):
    from eegbench.results.failures import read_failures, record_failure

    for seed in (0, 1):
        record_failure(tmp_path, "abc123", [f"seeds=[{seed}]"], {}, RuntimeError(f"s{seed}"),
                       seeds=[seed])
    records = read_failures(tmp_path)
    assert sorted(r["error"] for r in records) == ["s0", "s1"]
    assert all(os.stat(p).st_mode & 0o040 for p in (tmp_path / "failures").glob("*.json"))


# -- leaderboard: atomic swap, escaped cells ------------------------------------------------
def test_leaderboard_build_killed_midway_leaves_the_old_files(eegmat_store, tmp_path,
                                                              monkeypatch):
    from eegbench.leaderboard import report
    from eegbench.leaderboard.__main__ import main

    args = ["--results", str(_store(tmp_path)), "--out", str(tmp_path / "lb"), "--name", "loso",
            "--no-plots"]
    main(args)
    old = {p.name: p.read_bytes() for p in (tmp_path / "lb").iterdir()}
    assert {"loso.md", "loso.csv", "loso.html", "loso_per_subject.csv"} <= set(old)
    (_store(tmp_path) / "rows" / _row_files(tmp_path)[0].name).unlink()
    real_render = report.render_html

    def killed(*a, **k):  # dies after the .md/.csv files of the new build are written
        raise KeyboardInterrupt("killed")
    monkeypatch.setattr(report, "render_html", killed)
    with pytest.raises(KeyboardInterrupt):
        main(args)
    assert {p.name: p.read_bytes() for p in (tmp_path / "lb").iterdir()} == old
    # killed during the swap: the complete new set is moved in by the next build
    monkeypatch.setattr(report, "render_html", real_render)
    real_swap = report.finish_swap
    calls = []

    def swap_once_then_die(out_dir, name):
        calls.append(name)
        if len(calls) == 2:  # the swap after the new files are complete
            raise KeyboardInterrupt("killed")
        return real_swap(out_dir, name)
    monkeypatch.setattr(report, "finish_swap", swap_once_then_die)
    with pytest.raises(KeyboardInterrupt):
        main(args)
    assert (tmp_path / "lb" / ".loso.ready" / "loso.md").is_file()
    monkeypatch.setattr(report, "finish_swap", real_swap)
    assert report.finish_swap(tmp_path / "lb", "loso")
    assert "rows: 3 from" in (tmp_path / "lb" / "loso.md").read_text()
    assert not [p for p in (tmp_path / "lb").iterdir() if p.name.startswith(".")]


def test_markdown_cells_are_escaped(eegmat_store, tmp_path):
    from eegbench.leaderboard.__main__ import main

    path = _row_files(tmp_path)[0]
    row = json.loads(path.read_text())
    for p in _row_files(tmp_path):  # one model whose name has a pipe and a line break
        r = json.loads(p.read_text())
        r["model"] = "ts|lr\nx"
        p.write_text(json.dumps(r))
    main(["--results", str(_store(tmp_path)), "--out", str(tmp_path / "lb"), "--name", "loso",
          "--no-plots"])
    text = (tmp_path / "lb" / "loso.md").read_text()
    tables = [block.splitlines() for block in text.split("\n\n") if block.startswith("|")]
    assert tables
    for table in tables:  # every row of a table has the header's number of cell borders
        borders = {ln.replace("\\|", "").count("|") for ln in table}
        assert len(borders) == 1, table
    assert "ts\\|lr x" in text
    assert row["model"] == "ts_lr"


def test_every_shipped_experiment_and_model_passes_the_config_checks(tmp_path, data_root):
    from eegbench.cli.spec import check_config

    for exp in sorted(p.stem for p in (config_dir() / "exp").glob("*.yaml")):
        cfg = _cfg(tmp_path, data_root, tmp_path / "cache", f"+exp={exp}")
        spec = check_config(cfg, cfg.experiment.command)  # each declares its command
        assert spec.experiment.name == exp
    for group in ("model", "dataset", "protocol", "trainer"):
        for option in sorted(p.stem for p in (config_dir() / group).glob("*.yaml")):
            named = ["model.name=ts_lr"] if option == "plugin" else []  # the template
            raw = yaml.safe_load((config_dir() / group / f"{option}.yaml").read_text()) or {}
            for preprocess in ("mne", "gpu_fused") if group == "model" else ("mne",):
                cfg = _cfg(tmp_path, data_root, tmp_path / "cache", f"{group}={option}",
                           f"preprocess={preprocess}", *named)
                if (raw.get("hub") or {}).get("task_type") == "regression":
                    # a hub dataset with per-window regression targets: refused, said why
                    from eegbench.config.errors import ConfigError

                    with pytest.raises(ConfigError, match="regression target"):
                        check_config(cfg)
                    continue
                check_config(cfg)
