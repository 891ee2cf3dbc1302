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
    before_plugins : callable, optional
        Called once before the plugins are imported (e.g. to make fragile optional imports
        of the plugins' own dependencies work).
    """

    def __init__(self, kind: str, group: str | None = None,
                 before_plugins: Callable[[], object] | None = None) -> None:
        self.kind = kind
        self.group = group
        self._items: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        #: plugin name -> why it could not be loaded
        self.broken: dict[str, str] = {}
        self._before_plugins = before_plugins
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
        """Import every plugin; one that fails is reported by name and skipped."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        if self._before_plugins is not None:
            self._before_plugins()
        for ep in entry_points(group=self.group):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "?"
            try:
                obj = ep.load()
            except Exception as err:  # noqa: BLE001 - any plugin bug must not break the rest
                reason = f"{type(err).__name__}: {err}".splitlines()[0][:300]
                self.broken[ep.name] = f"entry point {ep.value} ({dist}) failed to import: " \
                                       f"{reason}"
                logger.warning("%s plugin '%s' from %s (%s) could not be loaded and is "
                               "skipped: %s", self.kind, ep.name, ep.value, dist, reason)
                continue
            self.register(ep.name, obj, origin=f"entry point {ep.value} ({dist})")
            if ep.dist:
                self._dists[ep.name] = ep.dist.name
            logger.debug("loaded %s plugin '%s' from %s", self.kind, ep.name, ep.value)

    def origin(self, name: str) -> str:
        """Return where ``name`` was registered from ("built-in" or its entry point)."""
        self.get(name)
        return self._origins[name]

    def get(self, name: str) -> T:
        """Return the object registered as ``name``.

        Raises
        ------
        RegistryError
            If unknown; the message suggests close matches.
        """
        self._load_plugins()
        if name in self.broken:
            raise RegistryError(f"The {self.kind} plugin '{name}' is installed but could not "
                                f"be loaded: {self.broken[name]}. Fix or uninstall that "
                                "distribution; the other models are unaffected.")
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
