"""What a result was computed from: data, model code and checkpoint fingerprints.

One identity scheme for every row (and for published results):

* **data** -- :func:`data_fingerprint`: the cache entry's key (which hashes the recipe, every
  source file's sha256, the preprocessing and the standardization code) and the sorted list
  of subjects in the dataset, so adding, removing, clipping or corrupting a recording gives
  a new fingerprint.
* **code** -- :func:`model_code_fingerprint`: for a built-in model, ``eegbench <version>``
  and the sha256 of the source modules that define it (the factory's module and the modules
  of the classes it builds); for a plugin, the distribution's name and version and the same
  source hash.
* **checkpoint** -- :func:`checkpoint_fingerprint`: the sha256 of the checkpoint file.

The three are part of a row's key (:attr:`eegbench.results.schema.ResultRow.key_fields`):
changed data, code or weights never reuse an old row.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

logger = logging.getLogger(__name__)


def _short(payload: Any) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def data_fingerprint(info: dict[str, Any], subjects: list[str]) -> str:
    """Return the fingerprint of a loaded dataset.

    Parameters
    ----------
    info : dict
        The dataset's ``info`` (cache manifest): its ``key`` names the content-addressed
        cache entry; without one, the source files' sha256 (``files``) are used.
    subjects : list of str
        The subjects present.
    """
    source = {"cache_key": info.get("key")} if info.get("key") else {
        "files": dict(sorted((info.get("files") or {}).items()))}
    return _short({**source, "subjects": sorted({str(s) for s in subjects}),
                   "channels": list(info.get("ch_names", []))})


def _modules_of(obj: Any) -> list[ModuleType]:
    """The modules defining ``obj`` and, for a class or a factory, the classes it builds."""
    modules: list[ModuleType] = []
    home = inspect.getmodule(obj)
    top = (home.__name__.split(".")[0] if home else "")

    def add(thing: Any) -> None:
        module = inspect.getmodule(thing)
        if module is not None and module.__name__.split(".")[0] == top \
                and module not in modules:
            modules.append(module)

    add(obj)
    classes = [obj] if inspect.isclass(obj) else []
    if not classes:
        try:
            returned = inspect.signature(obj).return_annotation
        except (TypeError, ValueError):
            returned = inspect.Signature.empty
        if isinstance(returned, str) and home is not None:
            returned = getattr(home, returned.split(".")[-1], None)
        if inspect.isclass(returned):
            classes.append(returned)
    for cls in classes:
        for base in cls.__mro__:
            add(base)
    return modules


def _source_hash(modules: list[ModuleType]) -> str:
    digest = hashlib.sha256()
    for module in sorted(modules, key=lambda m: m.__name__):
        try:
            path = Path(inspect.getfile(module))
            digest.update(module.__name__.encode() + path.read_bytes())
        except (TypeError, OSError):  # built-in or source-less module: name only
            digest.update(module.__name__.encode())
    return digest.hexdigest()[:16]


@functools.cache
def model_code_fingerprint(name: str) -> str:
    """Return ``"<distribution> <version> src:<hash>"`` for the registered model ``name``."""
    from importlib.metadata import PackageNotFoundError, version

    from eegbench.models.base import MODELS, load_builtin_models

    load_builtin_models()
    factory = MODELS.get(name)
    dist = MODELS.distribution(name) or "eegbench"
    try:
        dist_version = version(dist)
    except PackageNotFoundError:
        dist_version = "unknown"
    return f"{dist} {dist_version} src:{_source_hash(_modules_of(factory))}"


def checkpoint_fingerprint(params: dict[str, Any]) -> str | None:
    """Return ``"sha256:<hex>"`` of the checkpoint named in model ``params``, or None.

    A local file (or a name in ``$EEGBENCH_WEIGHTS_DIR``) is hashed; a hub reference
    (``hf://``) is identified by its pinned ``checkpoint_sha256`` when given, else by the
    reference itself (which pins a revision).
    """
    source = params.get("checkpoint")
    if not source:
        return None
    pinned = params.get("checkpoint_sha256")
    if str(source).startswith("hf://"):
        return f"sha256:{pinned}" if pinned else f"ref:{source}"
    from eegbench.hashing import sha256_of
    from eegbench.models.pretrained import resolve_checkpoint

    return f"sha256:{sha256_of(resolve_checkpoint(str(source), pinned))}"
