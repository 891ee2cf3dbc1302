"""Every typo is refused before any work starts: the typed job spec and the eegbench CLI.

Refused inputs are checked twice: against the spec (in-process, every message) and through
the command line on the real data root with an empty cache (exit status 2, the message once,
no traceback, no cache entry written, no failure record).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from eegbench.cli.spec import check_config, job_from_config
from eegbench.config import ConfigError
from eegbench.resources import config_dir

REPO = Path(__file__).resolve().parents[2]


def _cfg(*overrides: str, data_root: Path | None = None):
    extra = [f"paths.data_root={data_root}"] if data_root is not None else []
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[*extra, *overrides])


# -- the spec: one message per refused input, naming the key --------------------------------
REFUSED = [
    ("+trainer.max_epoch=3", r"Invalid key\(s\) \['max_epoch'\] in the 'trainer' section\. "
                             r"Allowed keys are \[.*'max_epochs'.*\]\. Did you mean "
                             r"'max_epochs' for 'max_epoch'\?"),
    ("+dataset.subjets=[00,01,02]", r"Invalid key\(s\) \['subjets'\] in the 'dataset' "
                                    r"section\..*Did you mean 'subjects' for 'subjets'\?"),
    ("seeds=abc", r"'seeds' parameter\. Allowed values are non-empty lists of integers.*but "
                  r"got 'abc'"),
    ("seeds=[]", r"'seeds' parameter\. Allowed values are non-empty lists of integers.*but "
                 r"got \[\]"),
    ("dataset.recipe=physionet_egmat", r"'dataset.recipe' parameter\. Allowed values are "
                                       r"\[.*\] or a path to an existing \.yaml recipe, but "
                                       r"got 'physionet_egmat'\. Did you mean "
                                       r"'physionet_eegmat'\?"),
    ("dataset.subjects=[]", r"'dataset.subjects' parameter\. Allowed values are null \(every "
                            r"subject found under paths.data_root\) or a non-empty list of "
                            r"subject ids.*but got \[\]"),
    ("model.params.estimator=foo", r"'model.params.estimator' parameter\. Allowed values are "
                                   r"\['corr', 'cov', .*'oas'.*\], but got 'foo'"),
    ("trainer.max_epochs=ten", r"'trainer.max_epochs' parameter: expected int or null, but got "
                               r"'ten' \(str\)"),
    ("+model.params.c=0.001", r"unknown key\(s\) \['c'\]\. Allowed keys are \['C', "
                              r"'estimator', 'warm_start'\]\. Did you mean 'C' for 'c'\?"),
    ("+model.adaptation=finetuen", r"'adaptation' parameter\. Allowed values are "
                                   r"\[.*\], but got 'finetuen'\. Did you mean 'finetune'\?"),
    ("preprocess.backend=gpu_fusd", r"'preprocess.backend' parameter\. Allowed values are "
                                    r"\['mne', 'gpu_fused'\], but got 'gpu_fusd'"),
    ("+preprocess.l_freqq=1.0", r"Invalid key\(s\) \['l_freqq'\] in the 'preprocess' "
                                r"section.*Did you mean 'l_freq'"),
    ("model.params.C=abc", r"'model.params.C' parameter: expected float, but got 'abc' "
                           r"\(str\)"),
    ("preprocess.sfreq=fast", r"'preprocess.sfreq' parameter: expected float, but got 'fast'"),
    ("+protocol.n_valid=1", r"Invalid key\(s\) \['n_valid'\] in the 'protocol' section.*Did "
                            r"you mean 'n_valid_subjects'"),
    ("protocol.name=lso", r"'protocol.name' parameter\. Allowed values are \[.*'loso'.*\], but "
                          r"got 'lso'\. Did you mean 'loso'\?"),
    ("trainer.optimizer=sgd", r"'trainer.optimizer' parameter\. Allowed values are \['adamw', "
                              r"'adam'\], but got 'sgd'"),
    ("trainer.device=gpu", r"'trainer.device' parameter\. Allowed values are 'auto', 'cpu', "
                           r"'cuda' or 'cuda:<index>', but got 'gpu'"),
    ("log_level=LOUD", r"'log_level' parameter\. Allowed values are \['DEBUG', 'INFO', "),
    ("+feature_cahce=false", r"Invalid key\(s\) \['feature_cahce'\] in the top level of the "
                             r"config.*Did you mean 'feature_cache'"),
    ("model.name=tslr", r"'model.name' parameter\. Allowed values are \[.*\] and "
                        r"braindecode.<Name>.*but got 'tslr'\. Did you mean 'ts_lr'"),
    ("+hp_search.grid.c=[1,2]", r"'hp_search.grid' parameter of model 'ts_lr': unknown key\(s\) "
                                r"\['c'\]"),
]


@pytest.mark.parametrize("override, message", REFUSED)
def test_the_spec_refuses_each_typo_naming_the_key(override, message):
    with pytest.raises(ConfigError, match=message) as err:
        check_config(_cfg(override))
    assert str(err.value).count("Invalid") + str(err.value).count("Missing") == 1


def test_several_typos_are_reported_together():
    with pytest.raises(ConfigError) as err:
        check_config(_cfg("+trainer.max_epoch=3", "+dataset.subjets=[0]", "seeds=abc"))
    text = str(err.value)
    assert text.startswith("3 configuration errors:")
    assert "'max_epoch'" in text and "'subjets'" in text and "'seeds'" in text


@pytest.mark.parametrize("seeds, ok", [
    ("[0]", True), ("[0,1,2]", True), ("abc", False), ("[]", False), ("0", False),
    ("[true]", False), ("[0,'1']", False), ("[0.5]", False)])
def test_seeds_must_be_a_non_empty_list_of_integers(seeds, ok):
    if ok:
        assert check_config(_cfg(f"seeds={seeds}")).seeds == [int(s) for s in
                                                                seeds.strip("[]").split(",")]
    else:
        with pytest.raises(ConfigError, match="'seeds' parameter"):
            check_config(_cfg(f"seeds={seeds}"))


def test_subject_ids_are_normalised_before_they_enter_the_identity(data_root, cache_root):
    from eegbench.evaluation.identity import identity_hash
    from eegbench.evaluation.plan import load_dataset

    spellings = ["[0,1,2,3]", "[00,01,02,03]", "['00','01','02','03']", "[3,2,1,0]",
                 "[0,1,2,3,3,00]"]
    hashes, subjects = set(), set()
    for spelling in spellings:
        cfg = _cfg(f"dataset.subjects={spelling}", f"paths.cache_dir={cache_root}",
                   data_root=data_root)
        hashes.add(identity_hash(job_from_config(cfg)))
        check_config(cfg)
        subjects.add(tuple(cfg.dataset.subjects))
    assert len(hashes) == 1
    assert subjects == {("00", "01", "02", "03")}  # the recordings' own spelling
    # the normalised ids select exactly these subjects' recordings
    ds = load_dataset(job_from_config(_cfg("dataset.subjects=[00,01]",
                                           f"paths.cache_dir={cache_root}",
                                           data_root=data_root)))
    assert sorted(ds.meta["subject"].astype(str).unique()) == ["00", "01"]


def test_moabb_subject_ids_are_integers():
    cfg = _cfg("dataset=moabb_ssvepexo", "dataset.subjects=['01',2,1]")
    assert check_config(cfg).dataset.subjects == [1, 2]


def test_the_experiment_declares_its_command():
    with pytest.raises(ConfigError, match=r"The experiment 'pretrain' is a pretraining job "
                                          r"\(experiment.command=pretrain\): run it with "
                                          r"`eegbench pretrain \+exp=pretrain`"):
        check_config(_cfg("+exp=pretrain"), "run")
    with pytest.raises(ConfigError, match=r"`eegbench study \+exp=objective_study`"):
        check_config(_cfg("+exp=objective_study"), "pretrain")
    with pytest.raises(ConfigError, match=r"is an evaluation job.*`eegbench run \+exp=loso`"):
        check_config(_cfg("+exp=loso"), "study")
    assert check_config(_cfg("+exp=pretrain_pooled"), "pretrain").pretrain.max_minutes == 8.0


def test_every_experiment_keeps_its_own_results_store():
    assert _cfg("+exp=loso").paths.results_dir.endswith("runs/loso/results")
    assert _cfg().paths.results_dir.endswith("runs/default/results")
    assert _cfg("+exp=loso", "experiment.name=quick").paths.results_dir.endswith(
        "runs/quick/results")
    with pytest.raises(ConfigError, match="'experiment.name' parameter"):
        check_config(_cfg("experiment.name=../elsewhere"))


# -- the command line: refused before any data load, printed once, no record ---------------
CLI_REFUSED = {
    "+trainer.max_epoch=3": "Invalid key(s) ['max_epoch'] in the 'trainer' section",
    "+dataset.subjets=[00,01,02]": "Invalid key(s) ['subjets'] in the 'dataset' section",
    "seeds=abc": "'seeds' parameter",
    "seeds=[]": "'seeds' parameter",
    "dataset.recipe=physionet_egmat": "Did you mean 'physionet_eegmat'?",
    "dataset.subjects=[]": "'dataset.subjects' parameter",
    "model.params.estimator=foo": "'model.params.estimator' parameter",
    "trainer.max_epochs=ten": "'trainer.max_epochs' parameter",
}


#: Runs ``eegbench.__main__.main(argv)`` once per case in one process (the imports are paid
#: once): each case gets its own empty cache and runs folder; prints one JSON line per case.
DRIVER = """
import contextlib, io, json, os, sys, time, traceback
from eegbench.__main__ import main
for case in json.loads(sys.argv[1]):
    os.environ.update(case["env"])
    err, out = io.StringIO(), io.StringIO()
    t0 = time.monotonic()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            status = main(case["argv"])
        except SystemExit as stop:
            status = stop.code
        except Exception:  # what the interpreter prints for an uncaught exception
            traceback.print_exc()
            status = 1
    for key in case["env"]:
        os.environ.pop(key)
    print(json.dumps({"status": status, "text": out.getvalue() + err.getvalue(),
                      "seconds": time.monotonic() - t0}))
"""


def _cli(cases: list[dict], cwd: Path) -> list[dict]:
    """Run ``eegbench`` on each case (``argv``, ``env``) through its real entry point."""
    import json

    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(cases)], cwd=cwd,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def _case(argv: list[str], work: Path, data_root: Path, **extra: str) -> dict:
    return {"argv": argv, "env": {"EEGBENCH_DATA_ROOT": str(data_root),
                                  "EEGBENCH_CACHE_DIR": str(work / "cache"),
                                  "EEGBENCH_RUNS_DIR": str(work / "runs"), **extra}}


def test_the_cli_refuses_each_typo_before_loading_data(tmp_path, data_root):
    # the real data root is readable and each cache is empty: a job that got past the check
    # would write a cache entry
    works = {o: tmp_path / re.sub(r"\W+", "_", o) for o in CLI_REFUSED}
    results = _cli([_case([o], works[o], data_root) for o in CLI_REFUSED], REPO)
    assert len(results) == len(CLI_REFUSED)
    for (override, needle), result in zip(CLI_REFUSED.items(), results, strict=True):
        work = works[override]
        assert result["status"] == 2, (override, result["text"][-2000:])
        assert result["text"].count(needle) == 1, (override, result["text"])  # printed once
        assert "Traceback" not in result["text"], override
        assert not (work / "cache").exists(), override  # nothing loaded or cached
        assert not list((work / "runs").rglob("failures")), override  # no failure record
        assert result["seconds"] < 30, (override, result["seconds"])


def test_run_with_a_pretraining_experiment_names_the_right_command(tmp_path, data_root):
    wrong, full = _cli([_case(["+exp=pretrain"], tmp_path / "a", data_root),
                        _case(["seeds=abc"], tmp_path / "b", data_root, HYDRA_FULL_ERROR="1")],
                       REPO)
    assert wrong["status"] == 2
    assert wrong["text"].count("run it with `eegbench pretrain +exp=pretrain`") == 1
    assert not (tmp_path / "a" / "cache").exists()
    # HYDRA_FULL_ERROR=1 keeps the traceback for developers
    assert full["status"] != 0 and full["status"] is not None
    assert "Traceback" in full["text"] and "ConfigError" in full["text"]


# -- help, models list, data list -------------------------------------------------------------
def test_help_describes_commands_groups_and_models_without_importing_torch():
    code = ("import sys; from eegbench.__main__ import main; main(['--help']); "
            "print('TORCH_IMPORTED' if 'torch' in sys.modules else 'TORCH_NOT_IMPORTED')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=True)
    text = proc.stdout
    assert "TORCH_NOT_IMPORTED" in text
    for command in ("run", "pretrain", "study", "leaderboard", "data", "models", "submission"):
        assert re.search(rf"^  {command} +\S", text, re.M), command
    assert "eegbench +exp=loso" in text
    for group in ("exp", "dataset", "preprocess", "model", "protocol", "trainer", "paths"):
        assert re.search(rf"^  {re.escape(group)} +\S", text, re.M), group
    for model in sorted(p.stem for p in (config_dir() / "model").glob("*.yaml")):
        if model != "plugin":
            assert re.search(rf"^  {model} +\S", text, re.M), model


def test_help_lists_a_plugin_model(tmp_path):
    import shutil

    target = tmp_path / "site"
    source = shutil.copytree(REPO / "tests" / "plugin_pkg", tmp_path / "plugin_pkg")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--target", str(target),
                    str(source)], check=True, cwd=tmp_path, capture_output=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(REPO)])}
    for argv in (["-m", "eegbench", "--help"], ["-m", "eegbench", "help"]):
        proc = subprocess.run([sys.executable, *argv], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=True)
        assert re.search(r"^  dummy_plugin +\[third-party: eegbench-dummy-plugin 0\.0\.1\]",
                         proc.stdout, re.M), proc.stdout[-2000:]


def test_models_list_is_quiet_fast_and_counts_parameters():
    from eegbench.models.parameter_counts import count_model

    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "eegbench", "models", "list"], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=True)
    seconds = time.monotonic() - t0
    assert seconds < 10, seconds
    assert proc.stderr == ""  # no library warnings
    rows = dict(re.findall(r"^\| `(\w+)` \| \w+ \| ([^|]+) \|$", proc.stdout, re.M))
    assert {"ts_lr", "eegnet", "cbramod", "labram"} <= set(rows)
    assert all(re.fullmatch(r"\d+\.\d+ [kM]", v.strip()) for v in rows.values()), rows
    family, n = count_model("eegnet")  # the listed count is the count of the model built now
    shown = float(rows["eegnet"].split()[0]) * (1e3 if rows["eegnet"].strip().endswith("k")
                                                else 1e6)
    assert family == "specialist" and abs(shown - n) <= 0.05e3
    assert "| `EEGNeX` | specialist |" in proc.stdout  # the braindecode table


def test_data_list_shows_unknown_not_zero_for_moabb_rows(data_root, capsys):
    from eegbench.data.__main__ import main

    assert main(["list", "--data-root", str(data_root), "--cache-dir", "/nonexistent"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "| MOABB " in ln]
    assert lines
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[3:8] == ["unknown"] * 5, line  # subjects .. sfreq
        assert "0" not in cells[3:8] and "0.0" not in cells[3:8]


def test_fold_parallel_true_false_are_the_trainer_words_and_not_identity():
    from eegbench.evaluation.identity import identity_hash

    jobs = {value: job_from_config(_cfg(f"trainer.fold_parallel={value}"))
            for value in ("false", "true", "exact")}
    assert {v: j.resolved["trainer"]["fold_parallel"] for v, j in jobs.items()} == {
        "false": "false", "true": "true", "exact": "exact"}
    assert jobs["false"].spec.trainer.fold_parallel == "false"
    assert len({identity_hash(j) for j in jobs.values()}) == 1
