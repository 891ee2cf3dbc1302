"""The protocol registry: ``protocol.name`` -> splitter class, listed as data.

Built-in splitters are ``"module:attribute"`` strings imported on first lookup (so this module
imports no splitter, and the splitters may import :mod:`eegbench.protocols.splitters`);
other packages add splitters under the ``eegbench.protocols`` entry-point group.
"""

from __future__ import annotations

import inspect
from typing import Any

from eegbench.registry import Registry, RegistryError

BUILTIN_PROTOCOLS: dict[str, str] = {
    "loso": "eegbench.protocols.splitters:LeaveOneSubjectOut",
    "fewshot": "eegbench.protocols.fewshot:WithinSubjectFewShot",
    "cross_session": "eegbench.protocols.cross_session:CrossSession",
    "fixed_split": "eegbench.protocols.fixed_split:FixedSplit",
    "within_run": "eegbench.protocols.within_subject:LeaveOneRunOut",
    "blocked_kfold": "eegbench.protocols.within_subject:BlockedKFold",
}

#: Every protocol's splitter class: built-ins and entry points.
PROTOCOLS: Registry[type] = Registry("protocol", group="eegbench.protocols",
                                     builtins=BUILTIN_PROTOCOLS, parameter="protocol.name")


def splitter_classes() -> dict[str, type]:
    """Return every protocol's splitter class by protocol name (imports them)."""
    return PROTOCOLS.load_all()


def make_splitter(name: str, **params: Any):
    """Build a splitter by protocol name (``loso``, ``fewshot``, ``cross_session``, ...).

    Raises
    ------
    ValueError
        If ``name`` is not a known protocol, or a parameter is not one of its parameters.
    """
    try:
        cls = PROTOCOLS.get(name)
    except RegistryError as err:  # a ValueError, as for every invalid configuration value
        raise ValueError(str(err)) from None
    allowed = set(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(f"Invalid parameter(s) {unknown} for protocol {name!r}. Allowed "
                         f"parameters are {sorted(allowed)}.")
    return cls(**params)
