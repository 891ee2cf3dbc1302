"""Checks of a composed job configuration, before any data is loaded.

A typo must never change nothing silently: a misspelled model parameter (swallowed by a
factory's ``**_``), a misspelled enumeration value (``adaptation=finetuen``) or an unknown
preprocessing key (ignored by :meth:`PreprocessSpec.from_config`) is an error naming the
key, the allowed values and the closest match. Values of model parameters and preprocessing
fields with simple annotations (``float``, ``int | None``, ``str``, ...) are type-checked, so
``model.params.C=abc`` is an error naming the key and the expected type rather than a numpy
error deep inside a fit.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from omegaconf import DictConfig, OmegaConf

from eegbench.checks import check_choice, check_keys
from eegbench.data.standardize import PreprocessSpec
from eegbench.models.base import check_adaptation, check_model_params, load_builtin_models

#: Allowed values of ``preprocess.backend``.
BACKENDS = ("mne", "gpu_fused")

#: Allowed values of ``model.channels.policy`` (see :mod:`eegbench.data.channels`).
CHANNEL_POLICIES = ("interpolate", "zero", "error")


#: Simple annotations checked on values: name -> accepted Python types.
_SIMPLE_TYPES: dict[str, tuple[type, ...]] = {
    "float": (int, float), "int": (int,), "str": (str,), "bool": (bool,),
    "None": (type(None),), "dict": (dict,), "list": (list, tuple),
}


def _accepted_types(annotation: Any) -> tuple[type, ...] | None:
    """Types matching a simple annotation (``float``, ``int | None``, ...); None if complex."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if not text:
        return None
    out: list[type] = []
    for part in (p.strip() for p in text.split("|")):
        part = part.split("[")[0]  # dict[str, Any] -> dict
        if part not in _SIMPLE_TYPES:
            return None
        out += _SIMPLE_TYPES[part]
    return tuple(out)


def check_type(key: str, value: Any, annotation: Any) -> None:
    """Raise an MNE-style error if ``value`` does not match a simple ``annotation``.

    Complex annotations (``Any``, classes, ...) are not checked.
    """
    accepted = _accepted_types(annotation)
    if accepted is None:
        return
    if isinstance(value, bool) and bool not in accepted:
        ok = False  # True is an int in Python, but not a number here
    else:
        ok = isinstance(value, accepted)
    if not ok:
        raise ValueError(f"Invalid value for the '{key}' parameter: expected "
                         f"{annotation if isinstance(annotation, str) else annotation.__name__}"
                         f", but got {value!r} ({type(value).__name__}).")


def check_param_types(name: str, params: dict[str, Any]) -> None:
    """Check ``model.params`` values against the simple annotations of the factory."""
    import inspect

    factory = load_builtin_models().get(name)
    targets = [c.__dict__["__init__"] for c in factory.__mro__ if "__init__" in c.__dict__
               and c is not object] if inspect.isclass(factory) else [factory]
    annotations: dict[str, Any] = {}
    for target in reversed(targets):  # the subclass's annotation wins
        try:
            sig = inspect.signature(target)
        except (TypeError, ValueError):
            continue
        annotations.update({p.name: p.annotation for p in sig.parameters.values()
                            if p.annotation is not p.empty})
    for key, value in params.items():
        if key in annotations:
            check_type(f"model.params.{key}", value, annotations[key])


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
    check_param_types(model["name"], dict(model.get("params") or {}))
    check_adaptation(str(model.get("adaptation", "from_scratch")))
    channels = model.get("channels")
    if channels:
        check_choice("model.channels.policy", channels.get("policy", "interpolate"),
                     CHANNEL_POLICIES)
    preprocess = OmegaConf.to_container(cfg.preprocess, resolve=True)
    check_keys("preprocess", list(preprocess),
               [f.name for f in fields(PreprocessSpec)] + ["name"])
    check_choice("preprocess.backend", preprocess.get("backend", "mne"), BACKENDS)
    for spec_field in fields(PreprocessSpec):
        if spec_field.name in preprocess:
            check_type(f"preprocess.{spec_field.name}", preprocess[spec_field.name],
                       spec_field.type)
