"""Checks of a composed job configuration, before any data is loaded.

A typo must never change nothing silently: a misspelled model parameter (swallowed by a
factory's ``**_``), a misspelled enumeration value (``adaptation=finetuen``) or an unknown
preprocessing key (ignored by :meth:`PreprocessSpec.from_config`) is an error naming the
key, the allowed values and the closest match.
"""

from __future__ import annotations

import difflib
from dataclasses import fields
from typing import Any

from omegaconf import DictConfig, OmegaConf

from eegbench.data.standardize import PreprocessSpec
from eegbench.models.base import check_adaptation, check_model_params, load_builtin_models

#: Allowed values of ``preprocess.backend``.
BACKENDS = ("mne", "gpu_fused")

#: Allowed values of ``model.channels.policy`` (see :mod:`eegbench.data.channels`).
CHANNEL_POLICIES = ("interpolate", "zero", "error")


def check_choice(key: str, value: Any, allowed: list[str] | tuple[str, ...]) -> Any:
    """Raise an MNE-style error if ``value`` is not in ``allowed`` (with "did you mean")."""
    if value not in allowed:
        close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Invalid value for the '{key}' parameter. Allowed values are "
                         f"{list(allowed)}, but got {value!r}.{hint}")
    return value


def check_keys(section: str, keys: list[str], allowed: list[str]) -> None:
    """Raise if ``keys`` holds a key not in ``allowed`` (with "did you mean")."""
    unknown = sorted(k for k in keys if k not in allowed)
    if unknown:
        hints = "".join(
            f" Did you mean {c[0]!r} for {k!r}?" for k in unknown
            if (c := difflib.get_close_matches(k, allowed, n=1)))
        raise ValueError(f"Invalid key(s) {unknown} in the '{section}' section. Allowed keys "
                         f"are {sorted(allowed)}.{hints}")


def validate_job_config(cfg: DictConfig) -> None:
    """Check the model name and parameters, the adaptation and the preprocessing.

    Raises
    ------
    ValueError
        On an unknown model parameter, adaptation, preprocessing key or backend, or channel
        policy (the message names the key, the allowed values and a close match).
    """
    model = OmegaConf.to_container(cfg.model, resolve=True)
    load_builtin_models().get(model["name"])
    check_model_params(model["name"], dict(model.get("params") or {}))
    check_adaptation(str(model.get("adaptation", "from_scratch")))
    channels = model.get("channels")
    if channels:
        check_choice("model.channels.policy", channels.get("policy", "interpolate"),
                     CHANNEL_POLICIES)
    preprocess = OmegaConf.to_container(cfg.preprocess, resolve=True)
    check_keys("preprocess", list(preprocess),
               [f.name for f in fields(PreprocessSpec)] + ["name"])
    check_choice("preprocess.backend", preprocess.get("backend", "mne"), BACKENDS)
