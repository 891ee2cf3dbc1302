"""From the composed Hydra configuration to the typed job: the only place that resolves it.

:func:`job_from_config` resolves the configuration once (``OmegaConf.to_container``) and
builds the :class:`eegbench.config.Job` that the job modules receive; nothing below the
command line sees a Hydra object.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from eegbench.config import ConfigError, Job, JobSpec, build_job


def resolve(cfg: DictConfig) -> dict[str, Any]:
    """Return the resolved configuration as plain values.

    Raises
    ------
    ConfigError
        For a value that cannot be resolved (an interpolation).
    """
    try:
        return OmegaConf.to_container(cfg, resolve=True)
    except OmegaConfBaseException as err:
        raise ConfigError(f"Invalid configuration: {str(err).splitlines()[0]}") from None


def job_from_config(cfg: DictConfig, command: str = "run") -> Job:
    """Validate a composed Hydra config for ``command``; return its :class:`Job`.

    Raises
    ------
    ConfigError
        As :func:`eegbench.config.build_job_spec`, or for a value that cannot be resolved.
    """
    return build_job(resolve(cfg), command)


def check_config(cfg: DictConfig, command: str = "run") -> JobSpec:
    """Validate a composed Hydra config in place: build its spec, write back normalised ids.

    For callers that keep composing Hydra configurations (the submission runner, tests): the
    subject ids in ``cfg`` become the spec's normalised ones.

    Raises
    ------
    ConfigError
        As :func:`job_from_config`.
    """
    job = job_from_config(cfg, command)
    spec = job.spec
    with open_dict(cfg):
        if cfg.dataset.get("subjects") is not None:
            cfg.dataset.subjects = list(spec.dataset.subjects or [])
        if spec.pretrain is not None:
            for node, entry in zip(cfg.pretrain.datasets, spec.pretrain.datasets, strict=True):
                if not isinstance(entry, str) and node.get("subjects") is not None:
                    node.subjects = list(entry.subjects or [])
    return spec
