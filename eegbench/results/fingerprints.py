"""What a result was computed from: data, model code and checkpoint fingerprints.

One identity scheme for every row (and for published results):

* **data** -- :func:`data_fingerprint`: the cache entry's key (which hashes the recipe, every
  source file's sha256, the preprocessing and the standardization code) and the sorted list
  of subjects in the dataset, so adding, removing, clipping or corrupting a recording gives
  a new fingerprint.
* **code** -- :func:`model_code_fingerprint`: ``<distribution> <version> src:<hash>
  lib:<hash>``: every module of eegbench and of the model's distribution that the run can
  execute (imported, or reachable by import statements from the run, the model factory and
  the adaptations), hashed without docstrings and comments
  (:mod:`eegbench.code_fingerprint`), the known-checkpoints registry, and the versions of the
  numerical libraries (torch, numpy, scipy, scikit-learn, mne, pyriemann, braindecode, peft)
  and of the model's distribution.
* **checkpoint** -- :func:`checkpoint_fingerprint`: the sha256 of the checkpoint's bytes (and,
  for a hub file not pinned by content, the commit it was downloaded from), never the
  reference string; :func:`weights_identity` also gives the row's ``weights`` provenance.

The three are part of a row's key (:attr:`eegbench.results.row.ResultRow.key_fields`):
changed data, code, library versions or weights never reuse an old row.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from typing import Any

import yaml

from eegbench.code_fingerprint import (
    CodeFingerprint,
    code_fingerprint,
    distribution_packages,
    installed_version,
    packages_of,
)
from eegbench.models.weights.known import get_known_checkpoint
from eegbench.models.weights.loading import resolve_weights

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


#: Modules every run executes (the orchestration); the model factory's module and the
#: adaptation modules are added per model (:func:`model_code_identity`).
RUN_ENTRY_MODULES = ("eegbench.evaluation.job",)


def _factory_module(factory: Any) -> str:
    module = inspect.getmodule(factory)
    if module is None:
        raise ValueError(f"Cannot tell which module defines the model factory {factory!r}.")
    return module.__name__


def _registry_hash() -> str:
    """Hash of the known-checkpoints registry's content (its contracts change inputs)."""
    from eegbench.models.weights.known import REGISTRY_FILE

    content = yaml.safe_load(REGISTRY_FILE.read_text()) or {}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def model_code_identity(name: str) -> CodeFingerprint:
    """Return the code fingerprint of a run of the registered model ``name``.

    The modules of eegbench and of the model's distribution (its top-level packages) that
    the run can execute: those imported so far (:data:`sys.modules`; call this after the
    model is built and the data are loaded), less the run's callers (modules that import
    :mod:`eegbench.evaluation.job`: the command line, the submission runner, the studies), and the
    static import closure of
    :data:`RUN_ENTRY_MODULES`, the model factory's module and the adaptation modules; each
    hashed without docstrings or comments. Plus the known-checkpoints registry's content and
    the versions of the numerical libraries and of the model's distribution.
    """
    from eegbench.adaptation.registry import BUILTIN_MODULES
    from eegbench.models.base import MODELS, load_builtin_models

    load_builtin_models()
    factory = MODELS.get(name)
    factory_module = _factory_module(factory)
    dist = MODELS.distribution(name)
    packages = {"eegbench", factory_module.split(".")[0]}
    if dist:
        packages |= packages_of(distribution_packages(dist))
    code = code_fingerprint([*RUN_ENTRY_MODULES, factory_module, *BUILTIN_MODULES], packages,
                            include_loaded=True, callers_of=RUN_ENTRY_MODULES[0],
                            extra_distributions=[dist] if dist else [])
    modules = {**code.modules, "eegbench/models/weights/known_checkpoints.yaml": _registry_hash()}
    return CodeFingerprint(modules, code.versions)


def model_code_fingerprint(name: str) -> str:
    """Return ``"<distribution> <version> src:<hash> lib:<hash>"`` for the model ``name``.

    See :func:`model_code_identity` for what is hashed.
    """
    from eegbench.models.base import MODELS, load_builtin_models

    load_builtin_models()
    dist = MODELS.distribution(name) or "eegbench"
    return f"{dist} {installed_version(dist)} {model_code_identity(name).label()}"


def weights_identity(params: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    """Return the checkpoint's key and ``weights`` provenance for model ``params``.

    The checkpoint is resolved as the model will load it (a hub file is downloaded, or found
    in the cache; an unpinned reference's branch is resolved anew: the job's rows are keyed
    by that commit and the job loads it): ``(None, None)`` without a checkpoint. Under
    ``init=random`` the weights are not loaded: a local file is still hashed (it may set the
    architecture), a hub or registry reference is named by its pinned sha256 or itself, and
    the provenance is None.
    """
    source = params.get("checkpoint")
    if not source:
        return None, None
    source = str(source)
    pinned = params.get("checkpoint_sha256")
    if params.get("init") == "random" and source.startswith(("hf://", "known:")):
        if source.startswith("known:") and not pinned:
            pinned = get_known_checkpoint(source.removeprefix("known:")).sha256
        return (f"sha256:{pinned}" if pinned else f"ref:{source}"), None
    resolved = resolve_weights(source, pinned, allow_unpinned=bool(params.get("allow_unpinned")),
                               refresh=True)
    if params.get("init") == "random":
        return resolved.key(), None
    return resolved.key(), resolved.provenance()


def checkpoint_fingerprint(params: dict[str, Any]) -> str | None:
    """Return the checkpoint's identity in a row's key (:func:`weights_identity`), or None.

    ``sha256:<hex>`` of the file's bytes (with ``commit:<resolved commit>`` for a hub file not
    pinned by content); never the reference string of a file that is loaded.
    """
    return weights_identity(params)[0]
