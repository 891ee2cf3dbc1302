"""The Hydra overrides a shared submission bundle may carry (checked before composing).

A bundle's manifest records the overrides its rows were computed with, and ``eegbench
submission verify`` composes them again; an override is configuration that comes
from outside, so it may only choose among what eegbench (and its installed plugins) ship:

- a **config-group selection** ``<group>=<option>`` for the groups in :data:`GROUPS`, to an
  option that exists as ``<group>/<option>.yaml`` in the shipped configuration tree or in a
  plugin's configuration folder;
- a **value** for one of :data:`VALUE_KEYS` or a key under one of :data:`VALUE_PREFIXES`
  (``key=value``, ``+key=value`` or ``++key=value``), where no segment of the key starts with
  ``_`` (``_target_`` and the like) and the value is plain: null, a boolean, a number, a
  string without an interpolation (``${...}``), or a (nested) list of these.

Everything else is refused: ``hydra.*`` and ``paths.*`` keys, ``dataset.moabb.*`` (which
selects MOABB classes), deletions (``~key``), packages (``group@pkg=...``), sweeps, mappings
as values, and command-line flags such as ``--config-dir``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType, ValueType
from hydra.errors import HydraException

from eegbench.plugins import plugin_search_paths
from eegbench.resources import config_dir

#: Config groups whose shipped options a bundle may select.
GROUPS = ("dataset", "model", "protocol", "trainer", "preprocess", "suite")
#: Keys a bundle may set to plain values.
VALUE_KEYS = ("seeds", "dataset.subjects", "model.adaptation")
#: Prefixes of the keys a bundle may set to plain values.
VALUE_PREFIXES = ("model.params.", "trainer.", "protocol.")

_OPTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")


class OverrideError(ValueError):
    """An override a bundle may not carry."""


def allowed_summary() -> str:
    """One sentence stating what a bundle's overrides may do (used in error messages)."""
    return (f"A bundle may select shipped options of the config groups {list(GROUPS)}, and set "
            f"the keys {list(VALUE_KEYS)} and keys under {list(VALUE_PREFIXES)} to plain values "
            "(null, booleans, numbers, strings without '${', lists of these).")


def config_roots() -> list[Path]:
    """The configuration folders whose options a bundle may select: eegbench's and plugins'."""
    roots = [config_dir()]
    for entry in plugin_search_paths():
        roots.append(Path(entry.removeprefix("file://")))
    return roots


def group_options(group: str, roots: Sequence[Path] | None = None) -> list[str]:
    """Return the options of config ``group`` in ``roots`` (default :func:`config_roots`)."""
    options = set()
    for root in roots if roots is not None else config_roots():
        folder = Path(root) / group
        if folder.is_dir():
            options.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(options)


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, str):
        return "${" not in value
    return isinstance(value, list) and all(_is_plain(v) for v in value)


def _refuse(text: str, why: str) -> OverrideError:
    return OverrideError(f"Invalid override {text!r}: {why}. {allowed_summary()}")


def _check_one(text: str, override: Override, roots: Sequence[Path]) -> None:
    key = override.key_or_group
    if override.package is not None:
        raise _refuse(text, "a config package ('@') may not be set")
    if override.type == OverrideType.DEL:
        raise _refuse(text, "deleting a key ('~') is not allowed")
    if override.value_type != ValueType.ELEMENT or override.is_sweep_override():
        raise _refuse(text, "a sweep is not allowed")
    value = override.value()
    if key in GROUPS:
        if override.type != OverrideType.CHANGE:
            raise _refuse(text, f"the config group '{key}' is selected with '{key}=<option>'")
        options = group_options(key, roots)
        if not isinstance(value, str) or not _OPTION.fullmatch(value) or value not in options:
            raise _refuse(text, f"{value!r} is not a shipped option of the config group "
                                f"'{key}' (allowed values are {options})")
        return
    segments = key.split(".")
    if any(not s or s.startswith("_") for s in segments):
        raise _refuse(text, f"the key '{key}' has a segment that is empty or starts with '_'")
    if key not in VALUE_KEYS and not key.startswith(VALUE_PREFIXES):
        raise _refuse(text, f"the key '{key}' may not be set by a bundle")
    if not _is_plain(value):
        raise _refuse(text, f"the value {value!r} is not a plain value")


def check_overrides(overrides: Iterable[str], where: str,
                    roots: Sequence[Path] | None = None) -> list[str]:
    """Check that every override is allowed in a bundle (see the module docstring).

    Parameters
    ----------
    overrides : iterable of str
        Hydra override strings, as recorded in a bundle's manifest.
    where : str
        Where they come from (named in the error), e.g. ``"manifest.json, configuration x"``.
    roots : sequence of Path, optional
        Configuration folders whose options may be selected (default :func:`config_roots`).

    Returns
    -------
    list of str
        The overrides, unchanged.

    Raises
    ------
    OverrideError
        Naming the first override that is not allowed, why, and what is allowed.
    """
    texts = list(overrides)
    roots = list(roots) if roots is not None else config_roots()
    parser = OverridesParser.create()
    for text in texts:
        if not isinstance(text, str) or text.startswith("-"):
            raise OverrideError(f"{where}: " + str(_refuse(str(text), "not a key=value "
                                                                       "override")))
        try:
            (override,) = parser.parse_overrides([text])
        except HydraException as err:
            raise OverrideError(f"{where}: " + str(_refuse(text, f"it does not parse ({err})"))
                                ) from None
        try:
            _check_one(text, override, roots)
        except OverrideError as err:
            raise OverrideError(f"{where}: {err}") from None
    return texts
