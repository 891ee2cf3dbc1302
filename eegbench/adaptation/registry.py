"""The adaptation registry: each ``model.adaptation`` value names one way of learning.

An adaptation is a function ``fit(model, X_train, y_train, X_valid, y_valid, signal, seed)``
that trains a built :class:`~eegbench.models.torch_model.TorchBenchmarkModel` (its ``module``
is set) and returns the fit report. New methods (e.g. parameter-efficient fine-tuning) register
themselves with :func:`register_adaptation`; nothing else needs to change.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Modules whose import registers the built-in adaptations (imported on first lookup, which
#: keeps ``eegbench.training.loop`` importable from these modules without an import cycle).
BUILTIN_MODULES = ("eegbench.adaptation.finetune", "eegbench.adaptation.probe",
                   "eegbench.adaptation.lp_ft", "eegbench.adaptation.peft_methods")


@dataclass(frozen=True)
class Adaptation:
    """One registered adaptation.

    Attributes
    ----------
    name : str
        The ``model.adaptation`` value.
    fit : callable
        ``fit(model, X_train, y_train, X_valid, y_valid, signal, seed) -> dict``.
    needs_checkpoint : bool
        Pretrained weights are required (everything but ``from_scratch``).
    linear_head : bool
        The head is a linear map of the probe readout (probes, LP-FT), whatever ``head.kind``.
    uses_validation : bool
        Selects epochs on the validation subjects; ``False`` (a probe with ``C`` fixed a
        priori) means the protocol hands it every non-test subject as training data.
    description : str
        One line for documentation and errors.
    """

    name: str
    fit: Callable[..., dict[str, Any]]
    needs_checkpoint: bool = True
    linear_head: bool = False
    uses_validation: bool = True
    description: str = ""


_REGISTRY: dict[str, Adaptation] = {}
_LOADED = False


def register_adaptation(name: str, *, needs_checkpoint: bool = True, linear_head: bool = False,
                        uses_validation: bool = True, description: str = ""
                        ) -> Callable[[Callable], Callable]:
    """Register ``fit`` as the adaptation ``name`` (decorator)."""

    def decorator(fit: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        if name in _REGISTRY and _REGISTRY[name].fit is not fit:
            raise ValueError(f"adaptation {name!r} is already registered")
        _REGISTRY[name] = Adaptation(name, fit, needs_checkpoint, linear_head, uses_validation,
                                     description)
        return fit

    return decorator


def _load_builtins() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for module in BUILTIN_MODULES:
            importlib.import_module(module)


def adaptation_names() -> list[str]:
    """Return the registered adaptation values, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def get_adaptation(name: str) -> Adaptation:
    """Return the registered adaptation ``name`` (MNE-style error otherwise)."""
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(f"Invalid value for the 'model.adaptation' parameter. Allowed values "
                         f"are {sorted(_REGISTRY)}, but got {name!r}.")
    return _REGISTRY[name]


def check_adaptation(name: str) -> str:
    """Validate an adaptation value and return it."""
    return get_adaptation(name).name
