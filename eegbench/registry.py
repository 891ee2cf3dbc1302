"""One typed registry of named objects: built-ins as lazy ``"module:attr"`` strings, plugins.

A :class:`Registry` maps a name to an object (a model factory, an adaptation, a splitter
class, ...). Built-ins are declared as data, ``name -> "package.module:attribute"``, and are
imported only when looked up, so listing the names (:meth:`Registry.names`) imports no
implementation (nor torch). Generated families of names (one per braindecode architecture,
say) are declared with :class:`Family`: the names come from a cheap callable, each object from
a ``"module:function"`` called with the name. Third-party packages add entries under the
registry's entry-point group (e.g. ``eegbench.models``); an entry point is listed by name and
imported on first lookup, like a built-in (the standard library's
:mod:`importlib.metadata`).
"""

from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The entry-point groups eegbench reads, one per registry (``eegbench.suites`` is reserved for
#: the suites' registry).
ENTRY_POINT_GROUPS: tuple[str, ...] = (
    "eegbench.models", "eegbench.adaptations", "eegbench.protocols", "eegbench.readers",
    "eegbench.objectives", "eegbench.metrics", "eegbench.suites")


class RegistryError(KeyError):
    """Unknown or duplicate registry name."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def import_target(target: str) -> object:
    """Import ``"package.module:attribute"`` and return the attribute.

    Raises
    ------
    ValueError
        If ``target`` is not of the form ``module:attribute``.
    """
    module, sep, attribute = target.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"A lazy registry entry must be 'package.module:attribute', but got "
                         f"{target!r}.")
    obj: object = importlib.import_module(module)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Family:
    """Generated entries: ``names()`` lists them, ``factory(name)`` builds each one.

    Attributes
    ----------
    names : callable
        Returns the family's names; called once, on the first lookup or listing (it must not
        import the implementations, e.g. read braindecode's ``summary.csv``).
    factory : str
        ``"module:function"``; ``function(name)`` returns the object registered as ``name``.
    """

    names: Callable[[], Iterable[str]]
    factory: str


@dataclass
class _Entry:
    """One name: a lazy target (import string, family factory or entry point) or an object."""

    origin: str
    target: str | None = None
    family: Family | None = None
    entry_point: EntryPoint | None = None
    distribution: str | None = None
    obj: object = None
    loaded: bool = False


class Registry(Generic[T]):
    """Name -> object mapping with lazy entries, collision errors, "did you mean" and plugins.

    Parameters
    ----------
    kind : str
        What is registered (used in messages), e.g. ``"model"``.
    group : str, optional
        Entry-point group of plugins, e.g. ``"eegbench.models"``.
    builtins : mapping, optional
        ``name -> "package.module:attribute"``, imported on first lookup.
    families : iterable of Family, optional
        Generated built-in entries.
    parameter : str, optional
        The configuration key that takes these names, for error messages (default ``kind``).
    before_plugins : callable, optional
        Called once before the first plugin is imported (e.g. to make fragile optional
        imports of the plugins' own dependencies work).
    """

    def __init__(self, kind: str, group: str | None = None, *,
                 builtins: Mapping[str, str] | None = None, families: Iterable[Family] = (),
                 parameter: str | None = None,
                 before_plugins: Callable[[], object] | None = None) -> None:
        self.kind = kind
        self.group = group
        self.parameter = parameter or kind
        self._entries: dict[str, _Entry] = {}
        #: plugin name -> why it could not be loaded
        self.broken: dict[str, str] = {}
        self._before_plugins = before_plugins
        self._before_plugins_done = before_plugins is None
        self._families = list(families)
        self._discovered = False
        for name, target in (builtins or {}).items():
            self._add(name, _Entry("built-in", target=target))

    # -- registering ------------------------------------------------------------------------
    def _add(self, name: str, entry: _Entry) -> None:
        if name in self._entries:
            raise RegistryError(
                f"A {self.kind} named '{name}' is already registered (by "
                f"{self._entries[name].origin}); cannot register it again from {entry.origin}.")
        self._entries[name] = entry

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
        self._discover()
        self._add(name, _Entry(origin, obj=obj, loaded=True))
        return obj

    def register_lazy(self, name: str, target: str, *, origin: str = "built-in") -> None:
        """Register ``"package.module:attribute"`` under ``name``, imported on first lookup."""
        self._discover()
        if ":" not in target:
            raise ValueError(f"A lazy {self.kind} entry must be 'package.module:attribute', "
                             f"but got {target!r} for {name!r}.")
        self._add(name, _Entry(origin, target=target))

    def builtin_modules(self) -> list[str]:
        """Return the modules the built-in lazy entries and families name (nothing imported).

        A code fingerprint follows import statements; code a registry loads by name is
        reached only through these names.
        """
        modules = {e.target.split(":")[0] for e in self._entries.values()
                   if e.origin == "built-in" and e.target}
        modules |= {family.factory.split(":")[0] for family in self._families}
        return sorted(modules)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (e.g. an entry a test registered).

        Raises
        ------
        RegistryError
            If ``name`` is not registered.
        """
        self._discover()
        if name not in self._entries:
            self.get(name)  # raises with suggestions
        del self._entries[name]
        self.broken.pop(name, None)

    # -- discovery --------------------------------------------------------------------------
    def _discover(self) -> None:
        """List the families' names and the entry points (nothing is imported)."""
        if self._discovered:
            return
        self._discovered = True
        for family in self._families:
            for name in family.names():
                self._add(name, _Entry("built-in", family=family))
        if self.group is None:
            return
        for ep in entry_points(group=self.group):
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "?"
            self._add(ep.name, _Entry(f"entry point {ep.value} ({dist})", entry_point=ep,
                                      distribution=ep.dist.name if ep.dist else None))

    def _load(self, name: str, entry: _Entry) -> object:
        if entry.loaded:
            return entry.obj
        if entry.entry_point is not None:
            if not self._before_plugins_done:
                self._before_plugins_done = True
                self._before_plugins()
            try:
                obj = entry.entry_point.load()
            except Exception as err:  # noqa: BLE001 - any plugin bug must not break the rest
                reason = f"{type(err).__name__}: {err}".splitlines()[0][:300]
                self.broken[name] = f"{entry.origin} failed to import: {reason}"
                logger.warning("%s plugin '%s' from %s could not be loaded and is skipped: "
                               "%s", self.kind, name, entry.origin.removeprefix("entry point "),
                               reason)
                raise RegistryError(self._broken_message(name)) from err
            logger.debug("loaded %s plugin '%s' from %s", self.kind, name, entry.origin)
        elif entry.family is not None:
            obj = import_target(entry.family.factory)(name)
        else:
            obj = import_target(entry.target)
        entry.obj, entry.loaded = obj, True
        return obj

    def _broken_message(self, name: str) -> str:
        return (f"The {self.kind} plugin '{name}' is installed but could not be loaded: "
                f"{self.broken[name]}. Fix or uninstall that distribution; the other "
                f"{self.kind}s are unaffected.")

    # -- lookup -----------------------------------------------------------------------------
    def get(self, name: str) -> T:
        """Return the object registered as ``name``, importing it on first use.

        Raises
        ------
        RegistryError
            If unknown (the message suggests close matches) or a plugin failed to import.
        """
        self._discover()
        if name in self.broken:
            raise RegistryError(self._broken_message(name))
        if name not in self._entries:
            close = difflib.get_close_matches(str(name), list(self._entries), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise RegistryError(
                f"Invalid value for the '{self.parameter}' parameter. Allowed values are "
                f"{sorted(self._entries)}, but got {name!r}.{hint}")
        return self._load(name, self._entries[name])  # type: ignore[return-value]

    def load_all(self) -> dict[str, T]:
        """Import every entry and return ``name -> object``.

        A plugin that fails to import is logged, recorded in :attr:`broken` and left out.
        """
        loaded: dict[str, T] = {}
        for name in self.names():
            try:
                loaded[name] = self.get(name)
            except RegistryError:
                if name not in self.broken:
                    raise
        return loaded

    def origin(self, name: str) -> str:
        """Return where ``name`` was registered from ("built-in" or its entry point)."""
        self._discover()
        if name not in self._entries:
            self.get(name)  # raises with suggestions
        return self._entries[name].origin

    def distribution(self, name: str) -> str | None:
        """Return the distribution that registered ``name`` (None for built-ins)."""
        self._discover()
        if name not in self._entries:
            self.get(name)  # raises with suggestions
        return self._entries[name].distribution

    def is_loaded(self, name: str) -> bool:
        """True if ``name``'s object has been imported."""
        self._discover()
        return name in self._entries and self._entries[name].loaded

    def names(self) -> list[str]:
        """Return every registered name, plugins included, sorted (nothing is imported)."""
        self._discover()
        return sorted(self._entries)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
