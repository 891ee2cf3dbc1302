"""The typed job spec: every configuration key of a job, validated once before any data load.

:func:`build_job_spec` turns the composed configuration (a plain mapping: the Hydra config
resolved once by the command line, :mod:`eegbench.cli.spec`) into a :class:`JobSpec`, and
:func:`build_job` into the :class:`Job` that the job modules receive. Every group is a
pydantic model with ``extra="forbid"`` and strict types (:mod:`eegbench.config.sections`), so
a misspelled key (``+trainer.max_epoch=3``, ``+dataset.subjets=[...]``), a value of the wrong
type (``trainer.max_epochs=ten``, ``seeds=abc``) or a value outside an enumeration is a
:class:`ConfigError` naming the key, the allowed keys or values and the closest match
(:mod:`eegbench.config.errors`), before anything is loaded. The checks that need the
registries and recipes follow (:mod:`eegbench.config.semantic`): model name and parameters,
adaptation, recipe names, the protocol's values, audit variants, the command the experiment
declares (``experiment.command``), and subject ids normalised to the recipe's own spelling
(``[0, 1]`` and ``[00, 01]`` are ``["00", "01"]``, sorted), so that one set of subjects has
one identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from eegbench.checks import check_choice
from eegbench.config.errors import ConfigError, format_validation_error
from eegbench.config.job import Job, plain
from eegbench.config.sections import JobSpec
from eegbench.config.semantic import COMMANDS, check_command, normalise, semantic_checks

__all__ = ["COMMANDS", "ConfigError", "Job", "JobSpec", "as_job", "build_job", "build_job_spec",
           "plain"]


def _scheduling_words(data: dict[str, Any]) -> dict[str, Any]:
    """Return ``data`` with ``trainer.fold_parallel`` true/false as the words the trainer reads.

    Hydra reads ``trainer.fold_parallel=false`` as a boolean; the setting's values are the
    strings ``auto``, ``true``, ``false`` and ``exact``
    (:class:`eegbench.training.loop.TrainerSpec`). Not part of a result's identity.
    """
    trainer = data.get("trainer")
    if isinstance(trainer, Mapping) and isinstance(trainer.get("fold_parallel"), bool):
        words = {True: "true", False: "false"}
        return {**data, "trainer": {**trainer, "fold_parallel": words[trainer["fold_parallel"]]}}
    return data


def build_job_spec(data: Mapping[str, Any], command: str = "run") -> JobSpec:
    """Validate a composed configuration for ``command`` and return its typed spec.

    Parameters
    ----------
    data : mapping
        The resolved configuration (plain values, :func:`eegbench.cli.spec.resolve`; a
        ``hydra`` node is ignored).
    command : {"run", "pretrain", "study"}
        The subcommand that runs it; it must be the one the experiment declares
        (``experiment.command``).

    Returns
    -------
    JobSpec
        The validated spec, subject ids normalised.

    Raises
    ------
    ConfigError
        Naming every unknown key (with the allowed keys and the closest match), every value of
        the wrong type, and the first invalid name (model, parameter, adaptation, recipe,
        protocol parameter, audit variant).
    """
    check_choice("command", command, COMMANDS)
    data = _scheduling_words({k: v for k, v in dict(data).items() if k != "hydra"})
    check_command(data, command)
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, JobSpec)) from None
    semantic_checks(spec)
    return normalise(spec)


def build_job(data: Mapping[str, Any], command: str = "run") -> Job:
    """Validate a resolved configuration for ``command``; return the :class:`Job` to run.

    As :func:`build_job_spec`, keeping the resolved mapping (subject ids normalised) for the
    row identity.
    """
    data = _scheduling_words(plain({k: v for k, v in data.items() if k != "hydra"}))
    return Job.from_spec(build_job_spec(data, command), data)


def as_job(job: Job | Mapping[str, Any], command: str = "run") -> Job:
    """Return ``job`` itself, or the :class:`Job` validated from a configuration mapping."""
    return job if isinstance(job, Job) else build_job(job, command)
