"""A row's identity, computed in one place: config hash, data, code and checkpoint fingerprints.

One identity scheme for every row (and for published results):

* **configuration** -- :func:`identity_hash`: the resolved ``dataset``, ``preprocess``,
  ``model``, ``protocol`` and ``trainer`` sections (and ``hp_search`` when set), less the keys
  that do not change a result (:func:`identity_config`); not paths, not seeds.
* **data** -- :func:`data_fingerprint`: the content a protocol sees: the windows' bytes (dtype
  and shape), the metadata columns the splitters and the rows read (subject, session, run,
  label, label name, onset, duration) and the signal description the models read (sampling
  rate, channel names, types, positions and orientations, units, classes). Windows that are
  bit-identical give the same fingerprint whatever code or cache entry produced them; adding,
  removing, clipping or corrupting a recording, or any change of the windows, gives a new one.
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

All of them are part of a row's key (:attr:`eegbench.results.row.ResultRow.key_fields`,
:func:`row_identity`): changed configuration, data, code, library versions or weights never
reuse an old row.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from typing import Any

import numpy as np
import yaml

from eegbench.code_fingerprint import (
    CodeFingerprint,
    code_fingerprint,
    distribution_packages,
    installed_version,
    packages_of,
)
from eegbench.config import Job
from eegbench.data.cache import WindowsDataset
from eegbench.evaluation.plan import adaptation_of, model_builder
from eegbench.models.weights.known import get_known_checkpoint
from eegbench.models.weights.loading import resolve_weights
from eegbench.protocols.alignment import PROTOCOL_DEFAULTS as ALIGNMENT_DEFAULTS
from eegbench.results.provenance import config_hash
from eegbench.results.row import row_key

logger = logging.getLogger(__name__)

# -- configuration ------------------------------------------------------------------------

#: Config sections that define a result's identity (paths, logging and seeds do not).
IDENTITY_SECTIONS = ("dataset", "preprocess", "model", "protocol", "trainer")
#: Protocol keys that add result rows without changing the others (not hashed).
EXTRA_ROW_KEYS = ("layer_probe", "layer_probe_max_features")
#: Optional protocol keys left out of the hash while at their defaults, so rows computed before
#: the option existed keep their identity.
OPTIONAL_PROTOCOL_DEFAULTS = ALIGNMENT_DEFAULTS
#: Trainer keys that decide how folds are scheduled, not what is computed: never hashed (each
#: row records its schedule in ``fit_report.fold_parallel``).
SCHEDULING_TRAINER_KEYS = ("fold_parallel",)
#: Trainer keys left out of the hash while null or at their default, so rows computed before
#: the option existed keep their identity; any other value is part of it.
OPTIONAL_TRAINER_DEFAULTS = {"precision": "fp32", "compile": False, "select_on": "loss"}
#: Model keys that document a configuration without changing what it computes: never hashed.
DOCUMENTATION_MODEL_KEYS = ("deviations",)


def identity_config(job: Job) -> dict[str, Any]:
    """Return the resolved config sections that determine a result (not paths or seeds)."""
    resolved = job.resolved
    identity = {k: job.section(k) for k in IDENTITY_SECTIONS}
    if isinstance(identity.get("trainer"), dict):
        identity["trainer"] = {
            k: v for k, v in identity["trainer"].items() if k not in SCHEDULING_TRAINER_KEYS
            and not (k in OPTIONAL_TRAINER_DEFAULTS and v in (None, OPTIONAL_TRAINER_DEFAULTS[k]))}
    if isinstance(identity.get("model"), dict):
        identity["model"] = {k: v for k, v in identity["model"].items()
                             if k not in DOCUMENTATION_MODEL_KEYS}
    if resolved.get("hp_search"):  # nested selection changes the result: part of the identity
        identity["hp_search"] = job.section("hp_search")
    if isinstance(identity.get("protocol"), dict):
        identity["protocol"] = {k: v for k, v in identity["protocol"].items()
                                if k not in EXTRA_ROW_KEYS
                                and not (k in OPTIONAL_PROTOCOL_DEFAULTS
                                         and v == OPTIONAL_PROTOCOL_DEFAULTS[k])}
    return identity


def identity_hash(job: Job, audit_variant: str | None = None) -> str:
    """Hash :func:`identity_config` (the row's ``config_hash``), with a leakage-audit variant."""
    identity = identity_config(job)
    return config_hash(identity if audit_variant is None else {**identity,
                                                                  "audit": audit_variant})


def row_identity(job: Job, fold: Any, seed: int, chash: str, fingerprints: dict[str, Any],
                 protocol: str | None = None, adaptation: str | None = None) -> dict[str, Any]:
    """Return the key fields of the row of ``fold`` (:func:`eegbench.results.row.row_key`).

    ``protocol`` (default: the configured one) names a leakage-audit variant's protocol,
    ``adaptation`` (default: the configured one) a layer-probe row's.
    """
    spec = job.spec
    return {"dataset": spec.dataset.name, "task": spec.dataset.task,
            "protocol": protocol or spec.protocol.name, "fold": fold.name,
            "model": spec.model.name, "adaptation": adaptation or adaptation_of(job),
            "seed": int(seed), "shots": fold.shots, "config_hash": chash, **fingerprints}


def row_key_of(job: Job, fold: Any, seed: int, chash: str, fingerprints: dict[str, Any],
               **kwargs: Any) -> str:
    """Return the store key of :func:`row_identity`."""
    return row_key(row_identity(job, fold, seed, chash, fingerprints, **kwargs))


# -- data -----------------------------------------------------------------------------------

#: Metadata columns a protocol and a row can see (splitters, scoring, resume); hashed where
#: present (``target``: a regression task's numeric target). ``source`` (a file name) is not:
#: renaming a file does not change the windows.
FINGERPRINT_META_COLUMNS = ("subject", "session", "run", "label", "label_name", "onset_s",
                            "duration_s", "target")
#: ``info`` keys that the models and the scoring read (:class:`eegbench.models.base.SignalSpec`,
#: the class names); the cache key, the source files and quality reports are not content.
FINGERPRINT_INFO_KEYS = ("sfreq", "ch_names", "ch_types", "ch_pos", "ch_ori", "ch_loc",
                         "units", "classes", "target")
#: Windows hashed per block of this many (bounded memory for memory-mapped caches).
_HASH_BLOCK = 256


def _short(payload: Any) -> str:
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


def windows_digest(X: np.ndarray) -> str:
    """Return the sha256 of the windows' bytes, with their dtype and shape."""
    digest = hashlib.sha256(f"{X.dtype.str}{tuple(X.shape)}".encode())
    for start in range(0, len(X), _HASH_BLOCK):
        digest.update(np.ascontiguousarray(X[start:start + _HASH_BLOCK]).data)
    return digest.hexdigest()


def data_fingerprint(ds: WindowsDataset) -> str:
    """Return the fingerprint of the windows, labels and metadata a protocol sees.

    Computed from content only (:data:`FINGERPRINT_META_COLUMNS`,
    :data:`FINGERPRINT_INFO_KEYS` and the windows' bytes), so two loads that give identical
    windows have one fingerprint, whichever code or cache entry produced them. Hashing reads
    every window once (one sha256 pass over the windows' bytes): call it once per job.
    """
    meta = {column: ds.meta[column].tolist() for column in FINGERPRINT_META_COLUMNS
            if column in ds.meta.columns}
    info = {key: ds.info[key] for key in FINGERPRINT_INFO_KEYS if ds.info.get(key) is not None}
    return _short({"windows": windows_digest(np.asarray(ds.X)), "meta": meta, "info": info})


# -- code and checkpoint ---------------------------------------------------------------------

#: Modules every run executes (the orchestration); the model factory's module and the
#: adaptation modules are added per model (:func:`model_code_identity`).
RUN_ENTRY_MODULES = ("eegbench.evaluation.job",)

#: The command line (composing, validating and dispatching a job): loaded by some callers of a
#: job and not by others, never executed by the computation, so never part of its code.
FRONT_END_PACKAGES = ("eegbench.cli", "eegbench.__main__")


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

    The static import closure (module- and function-level imports, followed inside eegbench
    and the model's distribution) of :data:`RUN_ENTRY_MODULES`, the model factory's module,
    the adaptation modules and the modules the protocol, reader and metric registries load by
    name; for a plugin, every module of its distribution's packages. Never what the process
    happens to have imported, so every process that runs the same job computes the same
    fingerprint. The command line (:data:`FRONT_END_PACKAGES`) is left out. Each module is
    hashed without docstrings or comments; plus the known-checkpoints registry's content and
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
    entries = [*RUN_ENTRY_MODULES, factory_module, *BUILTIN_MODULES, *_registry_modules()]
    if dist:  # a plugin: every module of its distribution's packages, however it loads them
        entries += [m for top in packages_of(distribution_packages(dist))
                    for m in _package_modules(top)]
    # The static closure only: what the process happens to have imported (an earlier job of
    # the same process, a warm feature cache) must not change a result's identity.
    code = code_fingerprint(entries, packages, extra_distributions=[dist] if dist else [])
    modules = {name: digest for name, digest in code.modules.items()
               if not name.startswith(FRONT_END_PACKAGES)}
    modules["eegbench/models/weights/known_checkpoints.yaml"] = _registry_hash()
    return CodeFingerprint(modules, code.versions)


def _registry_modules() -> list[str]:
    """Modules the run's registries load by name: protocols, readers and metrics."""
    from eegbench.data.readers import READERS
    from eegbench.metrics import METRICS
    from eegbench.protocols.registry import PROTOCOLS

    return [m for registry in (PROTOCOLS, READERS, METRICS) for m in registry.builtin_modules()]


def _package_modules(top: str) -> list[str]:
    """Every module of the importable package ``top`` (found on disk, none imported)."""
    import importlib.util
    import pkgutil

    spec = importlib.util.find_spec(top)
    if spec is None:
        return []
    if not spec.submodule_search_locations:
        return [top]
    return [top, *(info.name for info in pkgutil.walk_packages(
        spec.submodule_search_locations, prefix=f"{top}."))]


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


def row_fingerprints(job: Job, ds: WindowsDataset) -> dict[str, Any]:
    """Return what a row was computed from (data, code, weights), for its key and provenance.

    The model is built first, so that the code fingerprint sees every module the model
    imports; the checkpoint is resolved as the model will load it. ``weights`` (the row's
    provenance of the checkpoint) is not a key field.
    """
    model = job.spec.model
    model_builder(job)()
    checkpoint, weights = weights_identity(dict(model.params or {}))
    return {"data_fingerprint": data_fingerprint(ds),
            "code_fingerprint": model_code_fingerprint(model.name),
            "checkpoint": checkpoint, "weights": weights}
