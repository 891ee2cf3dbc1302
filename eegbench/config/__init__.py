"""The typed job spec: every configuration key of a job, validated once before any data load.

:func:`build_job_spec` turns the composed configuration (a plain mapping: the Hydra config
after ``OmegaConf.to_container(cfg, resolve=True)``) into a :class:`JobSpec`; the entry point
calls :func:`check_config` right after Hydra composed the configuration. Every group is a
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

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException
from pydantic import ValidationError

from eegbench.checks import check_choice
from eegbench.config.errors import ConfigError, format_validation_error
from eegbench.config.sections import JobSpec
from eegbench.config.semantic import COMMANDS, check_command, normalise, semantic_checks

__all__ = ["COMMANDS", "ConfigError", "JobSpec", "build_job_spec", "check_config"]


def build_job_spec(data: Mapping[str, Any], command: str = "run") -> JobSpec:
    """Validate a composed configuration for ``command`` and return its typed spec.

    Parameters
    ----------
    data : mapping
        The resolved configuration (``OmegaConf.to_container(cfg, resolve=True)``; a
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
    data = {k: v for k, v in dict(data).items() if k != "hydra"}
    check_command(data, command)
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, JobSpec)) from None
    semantic_checks(spec)
    return normalise(spec)


def check_config(cfg: DictConfig, command: str = "run") -> JobSpec:
    """Validate a composed Hydra config in place: build its spec, write back normalised ids.

    The job modules still read the DictConfig; the subject ids they see (and hash) are the
    spec's normalised ones.

    Raises
    ------
    ConfigError
        As :func:`build_job_spec`, or for a value that cannot be resolved (interpolation).
    """
    try:
        data = OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"Invalid configuration: {str(err).splitlines()[0]}") from None
    spec = build_job_spec(data, command)
    with open_dict(cfg):
        if cfg.dataset.get("subjects") is not None:
            cfg.dataset.subjects = list(spec.dataset.subjects or [])
        if spec.pretrain is not None:
            for node, entry in zip(cfg.pretrain.datasets, spec.pretrain.datasets, strict=True):
                if not isinstance(entry, str) and node.get("subjects") is not None:
                    node.subjects = list(entry.subjects or [])
    return spec
