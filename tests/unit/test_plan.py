"""The experiment plan (leaderboard/plan.yaml): every step's commands compose, nothing runs."""

from __future__ import annotations

import importlib.util
import itertools
import shlex
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from eegbench.cli.spec import check_config
from eegbench.leaderboard import plan as experiment_plan
from eegbench.resources import config_dir

REPO = Path(__file__).resolve().parents[2]
PLAN = REPO / "leaderboard" / "plan.yaml"


@pytest.fixture(scope="module")
def plan() -> experiment_plan.Plan:
    return experiment_plan.load_plan(PLAN)


def _sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """The overrides of each job of a Hydra multirun (every combination of the sweeps)."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    axes = []
    for override in parsed:
        if override.is_sweep_override():
            key = override.get_key_element()
            axes.append([f"{key}={v}" for v in override.sweep_string_iterator()])
        else:
            axes.append([override.input_line])
    return [list(job) for job in itertools.product(*axes)]


def _all_commands(plan: experiment_plan.Plan) -> list[tuple[str, list[str]]]:
    """Every (step, command) of the plan; a command shared by several steps comes once."""
    values = experiment_plan.resolve_variables(plan, environ={})
    seen, out = set(), []
    for step in plan.steps:
        for command in experiment_plan.expand_step(plan, step, values, python="python"):
            if tuple(command) not in seen:
                seen.add(tuple(command))
                out.append((step, command))
    return out


def _compose_plan_jobs(plan: experiment_plan.Plan, every_job: bool) -> int:
    """Compose and validate the plan's eegbench jobs (pretraining first); return how many.

    A checkpoint written by one of the plan's pretraining commands (its ``pretrain.output``,
    or a ``_step<N>`` copy of it) does not exist before the plan runs: the job is checked
    with ``checkpoint=null`` instead. Without ``every_job`` (Hydra composes slowly), each
    step's first command and every pretraining command are composed on their first sweep job,
    and every swept config-group choice of every command must name a file of that group.
    """
    commands = [(s, c) for s, c in _all_commands(plan) if c[2] == "eegbench"]
    if not every_job:
        for step, command in commands:
            _assert_group_choices_exist([a for a in command[4:] if a != "-m"], step)
        first: dict[str, list[str]] = {}
        for step, command in commands:
            first.setdefault(step, command)
        commands = [(s, c) for s, c in commands if first[s] is c or c[3] == "pretrain"]
    commands.sort(key=lambda sc: sc[1][3] != "pretrain")
    produced: set[str] = set()
    jobs = 0
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        for step, command in commands:
            kind, args = command[3], command[4:]
            assert kind in experiment_plan.JOB_COMMANDS, (step, command)
            overrides = [a for a in args if a != "-m"]
            sweeps = _sweep_jobs(overrides)
            assert "-m" in args or len(sweeps) == 1, f"step {step}: a sweep without -m"
            if not every_job:
                sweeps = sweeps[:1]
            for job in sweeps:
                job = [f"{a.split('=')[0]}=null" if a.startswith("model.params.checkpoint=")
                       and a.split("=", 1)[1] in produced else a for a in job]
                cfg = compose("config", overrides=job)
                check_config(cfg, kind)
                if kind == "pretrain":
                    output = str(cfg.pretrain.output)
                    produced.add(output)
                    produced.update(output.removesuffix(".pt") + f"_step{n}.pt"
                                    for n in cfg.pretrain.get("save_at_steps") or [])
                jobs += 1
    return jobs


def _assert_group_choices_exist(overrides: list[str], step: str) -> None:
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.get_key_element().lstrip("+")
        group = config_dir() / key
        if override.is_sweep_override() and group.is_dir():
            for choice in override.sweep_string_iterator():
                assert (group / f"{choice}.yaml").is_file(), f"step {step}: no {key}={choice}"


def test_every_job_command_of_the_plan_composes_and_validates(plan):
    """Each `python -m eegbench run|pretrain|study ...` of the plan composes with Hydra and
    passes the job spec's validation, as the real command does before it loads any data."""
    assert _compose_plan_jobs(plan, every_job=False) > 20


@pytest.mark.slow
def test_every_sweep_job_of_the_plan_composes_and_validates(plan):
    assert _compose_plan_jobs(plan, every_job=True) > 150


def test_module_commands_name_importable_modules(plan):
    for step, command in _all_commands(plan):
        if command[2] != "eegbench":
            assert importlib.util.find_spec(command[2]) is not None, (step, command)


def test_steps_write_into_the_committed_folder_only_committed_tables(plan):
    committed = {t.name for t in plan.committed.tables}
    for step, command in _all_commands(plan):
        if command[2] != "eegbench.leaderboard" or "--out" not in command:
            continue
        out = command[command.index("--out") + 1]
        if Path(out) == Path("leaderboard"):
            name = command[command.index("--name") + 1]
            assert name in committed, f"step {step} writes the uncommitted table {name}"


def test_every_committed_table_is_in_the_repository(plan):
    for table in plan.committed.tables:
        for suffix in (".md", ".csv", "_per_subject.csv", ".html"):
            assert (PLAN.parent / f"{table.name}{suffix}").is_file(), table.name


def test_dry_run_prints_the_commands_and_runs_none(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a dry run started {args}")

    monkeypatch.setattr(experiment_plan.subprocess, "run", refuse)
    status = experiment_plan.main(["fixed_split", "--dry-run", "--plan", str(PLAN),
                                   "--python", "python", "--set", "RUNS=/tmp/lb"])
    assert status == 0
    lines = [line for line in capsys.readouterr().out.splitlines()
             if not line.startswith("#")]
    assert [shlex.split(line)[4:6] for line in lines] == [
        ["-m", "model=ts_lr,fb_ts_lr"], ["model=eegnet", "protocol=fixed_split"]]
    assert all("paths.results_dir=/tmp/lb/results" in line for line in lines)


def test_set_and_environment_override_variables(plan):
    values = experiment_plan.resolve_variables(plan, {"ADAPT_EPOCHS": "7"},
                                               environ={"EEGBENCH_LEADERBOARD_RUNS": "/x",
                                                        "STUDY_TARGETS": "a b"})
    assert values["RUNS"] == "/x"
    assert values["CKPT"] == "/x/pretrain/cbramod_pooled_no_eegmat.pt"
    assert values["ADAPT_EPOCHS"] == "7"
    assert values["STUDY_TARGETS"] == ["a", "b"]


def _plan_file(tmp_path: Path, steps: dict) -> Path:
    data = yaml.safe_load(PLAN.read_text())
    data["steps"] = steps
    data["default"] = []
    path = tmp_path / "leaderboard" / "plan.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize(("steps", "message"), [
    ({"a": {"help": "h", "commands": [{"step": "missing"}]}}, "names the step 'missing'"),
    ({"a": {"help": "h", "commands": [{"run": ["@nope"]}]}}, "unknown override set '@nope'"),
    ({"a": {"help": "h", "commands": [{"step": "a"}]}}, "includes itself"),
    ({"a": {"help": "h", "commands": [{"run": ["x=$UNDEFINED"]}]}}, "$UNDEFINED"),
    ({"a": {"help": "h", "commands": [{"run": ["dataset=$ERP_WITHIN"]}]}}, "list variable"),
    ({"a": {"help": "h", "commands": [{"run": [], "study": []}]}}, "exactly one of"),
])
def test_malformed_plans_are_refused_with_the_reason(tmp_path, steps, message):
    path = _plan_file(tmp_path, steps)
    with pytest.raises(experiment_plan.PlanError) as err:
        plan = experiment_plan.load_plan(path)
        values = experiment_plan.resolve_variables(plan, environ={})
        experiment_plan.expand_step(plan, "a", values)
    assert message in str(err.value)


def test_the_leaderboard_command_line_runs_the_plan(plan, capsys):
    from eegbench.leaderboard.__main__ import main as leaderboard_main

    with pytest.raises(SystemExit) as status:
        leaderboard_main(["plan", "--list", "--plan", str(PLAN)])
    assert status.value.code == 0
    lines = capsys.readouterr().out.splitlines()[:-1]
    assert [line[2:].split()[0] for line in lines] == list(plan.steps)
    assert {line[2:].split()[0] for line in lines if line.startswith("*")} == set(plan.default)


def test_commands_run_single_threaded_on_the_given_data_root():
    env = experiment_plan.command_env({"OMP_NUM_THREADS": "8", "EEGBENCH_DATA_ROOT": "/d"})
    assert env["OMP_NUM_THREADS"] == "1" and env["EEGBENCH_DATA_ROOT"] == "/d"
    assert experiment_plan.command_env({})["EEGBENCH_DATA_ROOT"] == "../shared/data"
