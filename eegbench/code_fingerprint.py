"""The fingerprint of the code a computation runs: its modules and the library versions.

A result must never be reused after a code change, yet a reworded docstring or comment must not
throw results away. :func:`code_fingerprint` therefore hashes each module's abstract syntax tree
(``ast.dump`` without line numbers, so comments, blank lines and layout vanish) with every
docstring removed; any change to what the code does changes the hash.

Which modules: of the given packages (eegbench and, for a plugin model, the top-level packages
of its distribution), the union of

* the static import closure of the entry modules: every ``import`` and ``from ... import``
  statement at module and function level, followed transitively inside those packages (no
  module is imported to find it: files are located under the packages' folders), and
* optionally, the modules of those packages present in :data:`sys.modules` (what the process
  has imported, e.g. code loaded by name rather than by an import statement), except the
  callers of the computation (modules that import it, such as a command-line front end).

The versions of :data:`LIBRARIES` (and any extra distributions, e.g. a plugin's) are part of
the fingerprint: another torch or scikit-learn can give other numbers.

Files are read at each fingerprint (a few milliseconds); their parse (syntax-tree hash and
import list) is cached per process by content, so a job's fingerprint costs about a second
the first time and well under a tenth of a second after.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata as md
import importlib.util
import json
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

#: Distributions whose version is part of every code fingerprint (the numerical libraries a
#: result depends on).
LIBRARIES = ("torch", "numpy", "scipy", "scikit-learn", "mne", "pyriemann", "braindecode",
             "peft")

#: Top-level import names of third-party libraries: keyed by version, never hashed module by
#: module (see :func:`packages_of`).
LIBRARY_IMPORT_NAMES = frozenset({"torch", "numpy", "scipy", "sklearn", "mne", "pyriemann",
                                  "braindecode", "peft", "pandas", "safetensors",
                                  "huggingface_hub", "einops", "linear_attention_transformer"})


def installed_version(distribution: str) -> str:
    """Return the installed version of ``distribution`` ("not installed" if absent)."""
    try:
        return md.version(distribution)
    except md.PackageNotFoundError:
        return "not installed"


def library_versions(extra: Iterable[str] = ()) -> dict[str, str]:
    """Return ``{distribution: version}`` for :data:`LIBRARIES` and the ``extra`` ones."""
    names = sorted({*LIBRARIES, *extra})
    return {name: installed_version(name) for name in names}


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    """Remove the docstring of the module and of every class and function, in place."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=4096)
def _parse(source: bytes, filename: str) -> tuple[str, tuple[tuple[int, str], ...]]:
    """Return (hash of the docstring-free AST, imports) of a module's source (cached).

    Imports are ``(level, dotted name)`` pairs; ``from X import a`` yields ``X`` and ``X.a``
    (the latter may be an attribute rather than a module: the caller keeps only modules).
    """
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError:  # not Python we can read: its bytes stand for it
        return "bytes:" + hashlib.sha256(source).hexdigest(), ()
    imports: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports += [(0, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            imports.append((node.level, base))
            imports += [(node.level, f"{base}.{alias.name}" if base else alias.name)
                        for alias in node.names if alias.name != "*"]
    dumped = ast.dump(_strip_docstrings(tree), annotate_fields=False, include_attributes=False)
    return hashlib.sha256(dumped.encode()).hexdigest(), tuple(imports)


def _parsed(path: Path) -> tuple[str, tuple[tuple[int, str], ...]]:
    """:func:`_parse` of a file: read every time (cheap), parsed once per distinct content."""
    return _parse(path.read_bytes(), str(path))


def source_hash(path: str | Path) -> str:
    """Return the sha256 of a module's docstring-free syntax tree (its bytes if not Python).

    Files are read at each call; the parse is cached per process by content.
    """
    path = Path(path)
    if path.suffix != ".py":
        return "bytes:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return _parsed(path)[0]


def _package_roots(top: str) -> list[Path]:
    """Return the folders of top-level package ``top`` without importing anything new."""
    module = sys.modules.get(top)
    locations = list(getattr(module, "__path__", []) or [])
    if not locations and module is None:
        spec = importlib.util.find_spec(top)  # a top-level name: imports nothing
        locations = list(spec.submodule_search_locations or []) if spec else []
        if spec and spec.origin and not locations and spec.origin.endswith(".py"):
            return [Path(spec.origin)]  # a single-module distribution
    return [Path(p) for p in locations]


def module_file(name: str) -> Path | None:
    """Return the source file of module ``name`` (a package's ``__init__.py``), or None.

    Found under the folders of its top-level package; nothing is imported.
    """
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None):
        return Path(loaded.__file__)
    top, *rest = name.split(".")
    for root in _package_roots(top):
        if root.is_file():  # single-module distribution
            if not rest:
                return root
            continue
        base = root.joinpath(*rest)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _resolve(importer: str, is_package: bool, level: int, name: str) -> str:
    """Turn a (possibly relative) import inside ``importer`` into an absolute name."""
    if level == 0:
        return name
    parts = importer.split(".") if is_package else importer.split(".")[:-1]
    parts = parts[: len(parts) - (level - 1)] if level > 1 else parts
    return ".".join([*parts, name] if name else parts)


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def static_closure(entries: Iterable[str], packages: Iterable[str]) -> dict[str, Path]:
    """Return ``{module: file}`` reachable from ``entries`` by import statements.

    Module- and function-level imports are followed transitively; only modules of
    ``packages`` (top-level names) are kept and followed. Importing ``a.b.c`` runs
    ``a/__init__.py`` and ``a/b/__init__.py``, so parent packages are included.
    """
    packages = set(packages)
    found: dict[str, Path] = {}
    todo = [n for e in entries for n in _with_parents(e)]
    while todo:
        name = todo.pop()
        if name in found or name.split(".")[0] not in packages:
            continue
        path = module_file(name)
        if path is None:  # an attribute imported with "from X import name", not a module
            continue
        found[name] = path
        if path.suffix != ".py":
            continue
        is_package = path.name == "__init__.py"
        for level, imported in _parsed(path)[1]:
            target = _resolve(name, is_package, level, imported)
            if target:
                todo += [n for n in _with_parents(target) if n not in found]
    return found


def loaded_modules(packages: Iterable[str]) -> dict[str, Path]:
    """Return ``{module: file}`` of the modules of ``packages`` in :data:`sys.modules`."""
    packages = set(packages)
    out = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and name.split(".")[0] in packages and Path(file).is_file():
            out[name] = Path(file)
    return out


def packages_of(modules: Iterable[str]) -> set[str]:
    """Return the top-level packages of ``modules`` that are hashed module by module.

    Third-party libraries such as torch or braindecode are identified by their version.
    """
    return {m.split(".")[0] for m in modules} - LIBRARY_IMPORT_NAMES


def distribution_packages(distribution: str) -> set[str]:
    """Return the top-level import packages installed by ``distribution`` (empty if unknown)."""
    try:
        dist = md.distribution(distribution)
    except md.PackageNotFoundError:
        return set()
    tops = set()
    for file in dist.files or []:
        parts = Path(str(file)).parts
        if parts and parts[0] not in ("..", "__pycache__") and not parts[0].endswith(
                (".dist-info", ".egg-info", ".data")) and (len(parts) > 1 or str(
                file).endswith(".py")):
            tops.add(parts[0].removesuffix(".py"))
    return tops


@dataclass(frozen=True)
class CodeFingerprint:
    """Hashes of the modules that make up a computation, and the library versions.

    Attributes
    ----------
    modules : dict
        ``{module name: sha256 of its docstring-free syntax tree}``.
    versions : dict
        ``{distribution: version}``.
    """

    modules: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def source_digest(self) -> str:
        """The sha256 over every module's name and hash."""
        return hashlib.sha256(json.dumps(sorted(self.modules.items())).encode()).hexdigest()

    @property
    def versions_digest(self) -> str:
        """The sha256 over the library versions."""
        return hashlib.sha256(json.dumps(sorted(self.versions.items())).encode()).hexdigest()

    @property
    def digest(self) -> str:
        """The sha256 over code and versions (one value for a cache key)."""
        return hashlib.sha256((self.source_digest + self.versions_digest).encode()).hexdigest()

    def label(self) -> str:
        """Return ``"src:<16 hex> lib:<12 hex>"`` (the short form in a result row)."""
        return f"src:{self.source_digest[:16]} lib:{self.versions_digest[:12]}"


def code_fingerprint(entries: Iterable[str], packages: Iterable[str] | None = None, *,
                     include_loaded: bool = False, callers_of: str | None = None,
                     extra_distributions: Iterable[str] = ()) -> CodeFingerprint:
    """Fingerprint the code reachable from the ``entries`` modules.

    Parameters
    ----------
    entries : iterable of str
        Dotted names of the modules the computation starts from.
    packages : iterable of str, optional
        Top-level packages whose modules are hashed (default: :func:`packages_of` the
        entries). Modules of other packages are identified by their distribution's version
        only (:data:`LIBRARIES` and ``extra_distributions``).
    include_loaded : bool
        Also hash the modules of ``packages`` present in :data:`sys.modules` (code the
        process imported by name, e.g. plugins and registries).
    callers_of : str, optional
        With ``include_loaded``: leave out loaded modules whose own import closure reaches
        this module (e.g. ``"eegbench.evaluation.job"``): they call the computation (a command-line
        front end, a submission runner), the computation does not execute them, and they
        differ between processes that start the same job.
    extra_distributions : iterable of str
        More distributions whose version is part of the fingerprint (a plugin's own).

    Returns
    -------
    CodeFingerprint
    """
    entries = list(entries)
    packages = set(packages_of(entries) if packages is None else packages)
    files = static_closure(entries, packages)
    if include_loaded:
        for name, path in loaded_modules(packages).items():
            if name in files or (callers_of and name != callers_of and callers_of in
                                 static_closure([name], packages)):
                continue
            files[name] = path
    modules = {name: source_hash(path) for name, path in sorted(files.items())}
    logger.debug("code fingerprint over %d modules of %s", len(modules), sorted(packages))
    return CodeFingerprint(modules, library_versions(extra_distributions))
