"""The ``eegbench`` command line: subcommand dispatch and the Hydra entry points of the jobs.

Commands: ``run`` (the default when the first argument is not a command, so ``eegbench
+exp=loso`` runs), ``pretrain``, ``study``, ``leaderboard``, ``data``, ``models`` and
``submission`` (the last four delegate to their modules' command lines). The job commands
compose the Hydra configuration, resolve it and build the typed job once
(:func:`eegbench.cli.spec.job_from_config`) and only then load data; the experiment declares
which command runs it (``experiment.command``), so ``eegbench run +exp=pretrain`` is an error
naming ``eegbench pretrain``, and the job's runner is the one its command names
(:data:`RUNNERS`). A configuration error prints one message and exits with status 2 (no
traceback, no failure record; ``HYDRA_FULL_ERROR=1`` raises it with the full traceback).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from eegbench.plugins import plugin_search_paths
from eegbench.resources import config_dir

if TYPE_CHECKING:  # the job modules (torch) are imported only when a job runs, not for --help
    from eegbench.config import Job

logger = logging.getLogger("eegbench")

#: Subcommands and what they do (run is the default when the first argument is not one).
COMMAND_HELP = {
    "run": "evaluate models: dataset x model x protocol over seeds and folds (the default "
           "command)",
    "pretrain": "self-supervised pretraining of an encoder on pooled recordings "
                "(+exp=pretrain, +exp=pretrain_pooled, ...)",
    "study": "a study that pretrains and evaluates (+exp=objective_study, +exp=scale_study)",
    "leaderboard": "tables (Markdown, CSV, HTML) and plots from an experiment's results store",
    "data": "the dataset catalogue (data list); download a dataset's files (data fetch)",
    "models": "every model with its family and parameter count (models list); checkpoints",
    "submission": "run a model on the official configurations; verify a submitted bundle",
}

#: Commands that delegate to another module's ``main(argv)``.
DELEGATED = {"leaderboard": "eegbench.leaderboard.__main__", "data": "eegbench.data.__main__",
             "models": "eegbench.models.__main__", "submission": "eegbench.cli.submission"}
#: Exit status of a configuration error (argparse's convention for usage errors).
CONFIG_ERROR_STATUS = 2


#: Sweep jobs of this process refused for their configuration (the exit status is then 2).
_INVALID_JOBS: list[str] = []


def _config_error(err: Exception, sweep: bool) -> None:
    """Print a configuration error once; exit, or in a sweep skip the job.

    Re-raised with its traceback under ``HYDRA_FULL_ERROR=1``. In a sweep the other jobs go
    on (with the basic launcher the sweep then exits with status 2); nothing is recorded in
    the results store either way.
    """
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise err
    job = ""
    if sweep:
        job = f" (sweep job {' '.join(HydraConfig.get().overrides.task)}; skipped)"
        _INVALID_JOBS.append(job)
    sys.stderr.write(f"eegbench: configuration error{job}: {err}\n")
    sys.stderr.flush()
    if not sweep:
        raise SystemExit(CONFIG_ERROR_STATUS)


def searchpath_override(argv: list[str]) -> list[str]:
    """Return ``argv`` with a ``hydra.searchpath=[...]`` override for plugin configs added.

    Plugin packages may ship ``<package>/conf/model/<name>.yaml``
    (:func:`eegbench.plugins.plugin_search_paths`). Leaves ``argv`` unchanged when there are
    no plugin configs or the user sets the search path already.
    """
    if any(a.lstrip("+").startswith("hydra.searchpath") for a in argv):
        return argv
    paths = plugin_search_paths()
    if not paths:
        return argv
    logger.debug("plugin config folders: %s", paths)
    return [*argv, f"hydra.searchpath=[{','.join(paths)}]"]


def _study(job: Job) -> None:
    from eegbench.studies import run_study

    run_study(job)


def _pretrain(job: Job) -> None:
    from eegbench.pretraining.job import run_pretraining

    run_pretraining(job.resolved)


def _evaluate(job: Job) -> list:
    """Run an evaluation job; a runtime failure gets a failure record (cleared on success)."""
    from eegbench.evaluation.identity import identity_hash
    from eegbench.evaluation.job import run_experiment
    from eegbench.results.failures import clear_failure, record_failure

    spec = job.spec
    chash = identity_hash(job)
    try:
        rows = run_experiment(job)
    except Exception as err:
        path = record_failure(spec.paths.results_dir, chash, _overrides(), job.resolved, err,
                              seeds=list(spec.seeds))
        logger.error("job failed (%s: %s); failure recorded in %s", type(err).__name__, err,
                     path)
        raise
    clear_failure(spec.paths.results_dir, chash, seeds=list(spec.seeds))
    logger.info("done. Build the tables with: eegbench leaderboard --exp %s "
                "(results store %s)", spec.experiment.name, spec.paths.results_dir)
    return rows


def _overrides() -> list[str]:
    return list(HydraConfig.get().overrides.task)


#: The runner of each job command (``experiment.command``, checked against the subcommand).
RUNNERS = {"run": _evaluate, "pretrain": _pretrain, "study": _study}


def _job(cfg: DictConfig, command: str) -> Any:
    """Validate ``cfg`` for ``command`` and run it with the runner its experiment declares.

    Returns the rows of a ``run`` job (new and previously stored), for sweep callbacks such as
    :class:`eegbench.cli.verdict.SuiteVerdict`; None otherwise. In a sweep, a failed job's
    failure stays on record and the other jobs go on.
    """
    from eegbench.cli.spec import job_from_config
    from eegbench.config import ConfigError

    sweep = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        job = job_from_config(cfg, command)
    except ConfigError as err:
        _config_error(err, sweep)
        return None
    logging.getLogger("eegbench").setLevel(job.spec.log_level)
    try:
        return RUNNERS[job.spec.experiment.command](job)
    except Exception:
        if not sweep or job.spec.experiment.command != "run":
            raise
        return None


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _run_app(cfg: DictConfig) -> list | None:
    return _job(cfg, "run")


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _pretrain_app(cfg: DictConfig) -> None:
    _job(cfg, "pretrain")


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _study_app(cfg: DictConfig) -> None:
    _job(cfg, "study")


#: The Hydra application of each job command.
JOBS = {"run": _run_app, "pretrain": _pretrain_app, "study": _study_app}


def split_command(argv: list[str]) -> tuple[str, list[str]]:
    """Return ``(command, its arguments)``; ``run`` when ``argv`` does not start with one."""
    if argv and argv[0] in COMMAND_HELP:
        return argv[0], argv[1:]
    if argv and argv[0] == "help":
        return "help", argv[1:]
    return "run", argv


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: dispatch to a command; return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    command, rest = split_command(args)
    if command == "help" or (command in JOBS and {"-h", "--help"} & set(rest)):
        # imported here: a run never loads the help module (it is not part of the code that
        # computes results, nor of a run's code fingerprint)
        from eegbench.cli.help import help_text

        sys.stdout.write(help_text(COMMAND_HELP))
        return 0
    if command in DELEGATED:
        status = importlib.import_module(DELEGATED[command]).main(rest)
        return int(status or 0)
    rest = ["--help" if a == "--hydra-help" else a for a in rest]
    prog = sys.argv[0] if sys.argv else "eegbench"
    if any(a.lstrip("+").startswith("dataset=moabb/") for a in rest):
        from eegbench.data.bridges.moabb_catalog import moabb_dataset_overrides

        try:
            rest = [o for a in rest for o in moabb_dataset_overrides(a)]
        except ValueError as err:
            sys.stderr.write(f"eegbench: configuration error: {err}\n")
            return CONFIG_ERROR_STATUS
    if command == "run" and any(a.startswith("+suite=") for a in rest):
        return _run_suite(prog, rest)
    sys.argv = searchpath_override([prog, *rest])
    JOBS[command]()
    return CONFIG_ERROR_STATUS if _INVALID_JOBS else 0


def _run_suite(prog: str, args: list[str]) -> int:
    """``+suite=<name>``: one run job per cell of the suite (:mod:`eegbench.suites`)."""
    from eegbench.suites import SuiteError, run_suite, split_suite_args

    def run_cell(overrides: list[str]) -> None:
        sys.argv = searchpath_override([prog, *overrides])
        JOBS["run"]()

    name, cells, rest = split_suite_args(args)
    try:
        failed = run_suite(str(name), rest, run_cell, cells)
    except SuiteError as err:
        sys.stderr.write(f"eegbench: configuration error: {err}\n")
        return CONFIG_ERROR_STATUS
    return CONFIG_ERROR_STATUS if _INVALID_JOBS else int(bool(failed))
