"""A typed registry of named factories, extended by Python entry points.

Built-ins register with :meth:`Registry.register`; third-party packages add entries under
the entry-point group (e.g. ``eegbench.models``) and are discovered on first lookup.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RegistryError(KeyError):
    """Unknown or duplicate registry name."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


class Registry(Generic[T]):
    """Name -> object mapping with collision errors, "did you mean" and entry points.

    Parameters
    ----------
    kind : str
        What is registered (used in messages), e.g. ``"model"``.
    group : str, optional
        Entry-point group scanned for plugins, e.g. ``"eegbench.models"``.
    """

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._dists: dict[str, str] = {}
        self._plugins_loaded = group is None

    def register(self, name: str, obj: T | None = None, *, origin: str = "built-in"):
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is omitted.

        Raises
        ------
        RegistryError
            If ``name`` is already registered.
        """
        if obj is None:
            def _decorator(o: T) -> T:
                self.register(name, o, origin=origin)
                return o
            return _decorator
        if name in self._items:
            raise RegistryError(
                f"A {self.kind} named '{name}' is already registered (by {self._origins[name]}); "
                f"cannot register it again from {origin}."
            )
        self._items[name] = obj
        self._origins[name] = origin
        return obj

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for ep in entry_points(group=self.group):
            obj = ep.load()
            dist = ep.dist.name if ep.dist else "?"
            self.register(ep.name, obj, origin=f"entry point {ep.value} ({dist})")
            if ep.dist:
                self._dists[ep.name] = ep.dist.name
            logger.debug("loaded %s plugin '%s' from %s", self.kind, ep.name, ep.value)

    def get(self, name: str) -> T:
        """Return the object registered as ``name``.

        Raises
        ------
        RegistryError
            If unknown; the message suggests close matches.
        """
        self._load_plugins()
        if name not in self._items:
            close = difflib.get_close_matches(name, list(self._items), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise RegistryError(
                f"Invalid value for the '{self.kind}' parameter. Allowed values are "
                f"{sorted(self._items)}, but got {name!r}.{hint}"
            )
        return self._items[name]

    def distribution(self, name: str) -> str | None:
        """Return the distribution that registered ``name`` (None for built-ins)."""
        self.get(name)
        return self._dists.get(name)

    def names(self) -> list[str]:
        """Return all registered names, plugins included, sorted."""
        self._load_plugins()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


ModelFactory = Callable[..., object]
