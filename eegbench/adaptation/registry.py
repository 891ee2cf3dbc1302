"""The adaptation registry: each ``model.adaptation`` value names one way of learning.

An adaptation is a function ``fit(model, X_train, y_train, X_valid, y_valid, signal, seed)``
that trains a built :class:`~eegbench.models.torch_model.TorchBenchmarkModel` (its ``module``
is built, seeded, before ``fit`` is called) and returns the fit report. The built-ins are
listed as data in :mod:`eegbench.adaptation.builtins` and imported on first lookup; other
packages add adaptations with :func:`register_adaptation` or under the
``eegbench.adaptations`` entry-point group (an :class:`Adaptation` object).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eegbench.adaptation.builtins import (
    ADAPTATION_FAMILIES,
    BUILTIN_ADAPTATIONS,
    BUILTIN_MODULES,
)
from eegbench.registry import Registry, RegistryError

__all__ = ["ADAPTATIONS", "BUILTIN_MODULES", "Adaptation", "adaptation_names", "check_adaptation",
           "get_adaptation", "register_adaptation"]


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
    restore : callable, optional
        ``restore(model)``: re-creates the adaptation's extra modules (e.g. PEFT adapters) in
        a freshly built ``model.module`` before saved weights are loaded into it.
    """

    name: str
    fit: Callable[..., dict[str, Any]]
    needs_checkpoint: bool = True
    linear_head: bool = False
    uses_validation: bool = True
    description: str = ""
    restore: Callable[[Any], None] | None = None


#: Every adaptation: built-ins (lazy), :func:`register_adaptation` and entry points.
ADAPTATIONS: Registry[Adaptation] = Registry(
    "adaptation", group="eegbench.adaptations", builtins=BUILTIN_ADAPTATIONS,
    families=ADAPTATION_FAMILIES, parameter="adaptation")


def register_adaptation(name: str, *, needs_checkpoint: bool = True, linear_head: bool = False,
                        uses_validation: bool = True, description: str = "",
                        restore: Callable[[Any], None] | None = None
                        ) -> Callable[[Callable], Callable]:
    """Register ``fit`` as the adaptation ``name`` (decorator).

    Raises
    ------
    RegistryError
        If ``name`` is already registered.
    """

    def decorator(fit: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        ADAPTATIONS.register(name, Adaptation(name, fit, needs_checkpoint, linear_head,
                                              uses_validation, description, restore))
        return fit

    return decorator


def adaptation_names() -> list[str]:
    """Return the registered adaptation values, sorted (nothing is imported)."""
    return ADAPTATIONS.names()


def get_adaptation(name: str) -> Adaptation:
    """Return the registered adaptation ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not registered (MNE-style message with close matches), or is a plugin
        that failed to import.
    """
    try:
        return ADAPTATIONS.get(name)
    except RegistryError as err:  # a ValueError, as for every invalid configuration value
        raise ValueError(str(err)) from None


def check_adaptation(name: str) -> str:
    """Validate an adaptation value without importing its implementation and return it.

    Raises
    ------
    ValueError
        If ``name`` is not registered (MNE-style message with close matches).
    """
    if name not in ADAPTATIONS:
        get_adaptation(name)
    return name
