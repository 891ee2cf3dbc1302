"""Pretrained weights: find, verify (sha256) and load checkpoints, original layouts included.

A checkpoint source is one of

- a local file path;
- a file name under the folder named by ``$EEGBENCH_WEIGHTS_DIR``;
- ``hf://<owner>/<repo>[@<revision>]/<path/to/file>``: a Hugging Face Hub file pinned by its
  sha256 (``checkpoint_sha256``; any revision) or by a full commit, unless ``allow_unpinned``;
  see :mod:`eegbench.models.weights.hub`;
- ``known:<name>``: an entry of the known-checkpoints registry
  (``eegbench/models/weights/known_checkpoints.yaml``), which supplies the reference, the sha256 and
  the input contract the checkpoint was trained with.

:func:`resolve_weights` returns the local file with what identifies its bytes
(:class:`ResolvedWeights`: sha256, resolved commit, how it is pinned), from which a result
row's key and ``weights`` provenance are made.

Checkpoints are read without executing code: safetensors files directly, torch files with
``torch.load(..., weights_only=True)`` (tensors and plain containers only; a pickle that would
run code is refused with :class:`UnsafeCheckpointError`).

Checkpoints saved by the original projects use other key names than braindecode's
re-implementations; :data:`KEY_MAPPINGS` translates them (idempotent on braindecode layouts):

- CBraMod (wjq-learning/CBraMod): same names; a ``module.`` (DataParallel) or ``backbone.``
  (downstream model) prefix is removed, the downstream ``classifier.*`` dropped.
- LaBraM (935963004/LaBraM): the pretraining checkpoint nests the encoder under ``student.``;
  ``pos_embed`` -> ``position_embedding``, ``time_embed`` -> ``temporal_embedding`` (cropped
  to the number of patches), ``patch_embed.*`` -> ``patch_embed.temporal_conv.*``,
  ``mlp.fc1/fc2`` -> ``mlp.0/mlp.2``, ``head`` -> ``final_layer``; the tokenizer-side
  ``lm_head``, ``mask_token`` and ``teacher``/projection weights are dropped.
- BIOT (ycq091044/BIOT): the encoder's keys gain braindecode's ``encoder.`` prefix
  (``biot.`` of the original BIOTClassifier is renamed); ``classifier.*`` dropped.
- EEGPT (BINE022/EEGPT): a Lightning checkpoint (``state_dict``) whose ``target_encoder.*``
  keys are kept; ``encoder.``/``predictor.``/``reconstructor.`` (pretraining only) dropped.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from eegbench.hashing import sha256_of
from eegbench.models.weights.hub import HF_PREFIX, WEIGHTS_ENV, fetch, parse_hub_reference
from eegbench.models.weights.known import KNOWN_PREFIX, get_known_checkpoint

logger = logging.getLogger(__name__)

__all__ = ["WEIGHTS_ENV", "KNOWN_PREFIX", "WeightsError", "UnsafeCheckpointError",
           "ResolvedWeights", "resolve_weights", "resolve_checkpoint", "read_state_dict",
           "safe_torch_load", "load_weights",
           "load_state_into", "save_checkpoint", "read_metadata", "KEY_MAPPINGS"]

StateDict = dict[str, torch.Tensor]


class WeightsError(FileNotFoundError):
    """Pretrained weights are missing, corrupt or do not fit the model."""


def missing_weights_error(model: str, adaptation: str) -> WeightsError:
    """Return the error raised when ``adaptation`` needs weights and none were given."""
    return WeightsError(
        f"{model} with adaptation={adaptation!r} needs pretrained weights, but no checkpoint "
        f"was given. Provide one with `model.params.checkpoint=<path/to/file.pt>`, or a file "
        f"name inside the folder named by the {WEIGHTS_ENV} environment variable, or "
        f"`model.params.checkpoint=hf://<owner>/<repo>@<commit>/<file>` with "
        f"`model.params.checkpoint_sha256=...` (needs internet access), or a registry entry "
        f"`model.params.checkpoint=known:<name>` (`python -m eegbench.models checkpoints`). "
        f"Make one offline with "
        f"`python -m eegbench pretrain +exp=pretrain`, or train from random init with "
        f"`model.adaptation=from_scratch`.")


class UnsafeCheckpointError(WeightsError):
    """A checkpoint holds pickled objects other than tensors and plain containers."""


@dataclass(frozen=True)
class ResolvedWeights:
    """A checkpoint source resolved to a local file, with what identifies its bytes.

    Attributes
    ----------
    source : str
        The source as configured (a path, ``hf://...`` or ``known:<name>``).
    path : Path
        The local file.
    sha256 : str
        The sha256 of its bytes.
    pinned_by : str
        ``"sha256"`` (an expected sha256 was given and verified), ``"revision"`` (a hub file
        at a full commit) or ``"none"``.
    kind : str
        ``"hub"`` or ``"file"``.
    commit : str, optional
        The commit a hub file was downloaded from.
    requested_revision : str, optional
        The revision the hub reference asked for (a commit, a branch, or None: ``main``).
    known : str, optional
        The name of the registry entry (``known:<name>``).
    """

    source: str
    path: Path
    sha256: str
    pinned_by: str
    kind: str
    commit: str | None = None
    requested_revision: str | None = None
    known: str | None = None

    def key(self) -> str:
        """Return the identity of the weights in a row's key (its ``checkpoint`` field).

        ``sha256:<hex>`` when the bytes are pinned or the file is local; for a hub file not
        pinned by content, ``sha256:<hex> commit:<resolved commit>`` (what was downloaded,
        never the reference string), so moved weights never reuse a row.
        """
        if self.kind == "hub" and self.pinned_by != "sha256":
            return f"sha256:{self.sha256} commit:{self.commit}"
        return f"sha256:{self.sha256}"

    def provenance(self) -> dict[str, Any]:
        """Return the row's ``weights`` field: source, sha256, commit, pinned_by, ...

        For content-pinned hub files ``commit`` is the pinned revision when one was asked for
        (else None): the bytes, not the commit, identify them, and the same row stays valid
        when the branch moves without changing the file.
        """
        commit = self.commit if self.pinned_by != "sha256" else (
            self.requested_revision if self.requested_revision == self.commit else None)
        out = {"source": self.source, "kind": self.kind, "sha256": self.sha256,
               "commit": commit, "pinned_by": self.pinned_by}
        if self.known:
            out["known"] = self.known
        return out


def resolve_weights(source: str, sha256: str | None = None, *, allow_unpinned: bool = False,
                    refresh: bool = False) -> ResolvedWeights:
    """Resolve checkpoint ``source`` to a verified local file and describe its bytes.

    Parameters
    ----------
    source : str
        A file path, a file name under ``$EEGBENCH_WEIGHTS_DIR``, ``hf://owner/repo[@rev]/
        file`` or ``known:<name>``.
    sha256 : str, optional
        Expected sha256: pins the bytes (any hub revision, the default branch included).
    allow_unpinned : bool
        Accept hub references pinned neither by a sha256 nor by a commit (and such registry
        entries).
    refresh : bool
        Resolve an unpinned hub reference's branch again (once per job, when rows are keyed;
        see :func:`eegbench.models.weights.hub.fetch`).

    Raises
    ------
    WeightsError
        If the file cannot be found / downloaded, or its hash differs from ``sha256``.
    eegbench.models.weights.hub.HubReferenceError
        If a hub reference is malformed, or not pinned and ``allow_unpinned`` is False.
    """
    known = None
    if source.startswith(KNOWN_PREFIX):
        entry = get_known_checkpoint(source[len(KNOWN_PREFIX):])
        if sha256 and entry.sha256 and sha256.lower() != entry.sha256:
            raise WeightsError(f"checkpoint_sha256={sha256} contradicts the registry's sha256 "
                               f"{entry.sha256} for {source!r}.")
        known = entry.name
        reference, sha256 = entry.reference(allow_unpinned=allow_unpinned), sha256 or entry.sha256
    else:
        reference = source
    if reference.startswith(HF_PREFIX):
        ref = parse_hub_reference(reference)
        try:
            file = fetch(ref, sha256, allow_unpinned=allow_unpinned, refresh=refresh)
        except FileNotFoundError as err:
            raise WeightsError(str(err)) from err
        return ResolvedWeights(source, file.path, file.sha256, file.pinned_by, "hub",
                               file.commit, ref.revision, known)
    path = local_checkpoint(reference)
    actual = sha256_of(path)
    if sha256 and actual != sha256.lower():
        raise WeightsError(f"Checkpoint {path} has sha256 {actual}, but {sha256} was "
                           "expected: the file is corrupt or a different release.")
    return ResolvedWeights(source, path, actual, "sha256" if sha256 else "none", "file")


def local_checkpoint(source: str) -> Path:
    """Return the local file ``source`` (a path, or a name under ``$EEGBENCH_WEIGHTS_DIR``).

    Raises
    ------
    WeightsError
        If no such file exists.
    """
    candidates = [Path(source).expanduser()]
    if os.environ.get(WEIGHTS_ENV):
        candidates.append(Path(os.environ[WEIGHTS_ENV]) / source)
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        raise WeightsError(
            f"Checkpoint {source!r} not found (looked at {[str(c) for c in candidates]}). "
            f"Pass an existing file path, set {WEIGHTS_ENV} to the folder holding it, or "
            f"use hf://<owner>/<repo>@<commit>/<file> when online.")
    return path


def resolve_checkpoint(source: str, sha256: str | None = None, *,
                       allow_unpinned: bool = False) -> Path:
    """Return the local path of checkpoint ``source``, checking its sha256 when given.

    A local file without an expected sha256 is not hashed (see :func:`resolve_weights` for
    the identity of the bytes).

    Raises
    ------
    WeightsError
        If the file cannot be found / downloaded, or its hash differs from ``sha256``.
    eegbench.models.weights.hub.HubReferenceError
        If a hub reference is malformed, or not pinned and ``allow_unpinned`` is False.
    """
    if source.startswith((KNOWN_PREFIX, HF_PREFIX)) or sha256:
        return resolve_weights(source, sha256, allow_unpinned=allow_unpinned).path
    return local_checkpoint(source)


#: Harmless non-tensor types that published checkpoints pickle beside their weights (LaBraM
#: and other timm-style training scripts store their ``argparse.Namespace`` as ``args``).
SAFE_GLOBALS: tuple[type, ...] = (argparse.Namespace,)


def safe_torch_load(path: str | Path) -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain containers, never code.

    Raises
    ------
    UnsafeCheckpointError
        If the pickle refers to anything else (a class or function it would call).
    """
    try:
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            return torch.load(Path(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        detail = str(err).split("Please file an issue")[0].strip().splitlines()
        detail = next((ln for ln in detail if "GLOBAL" in ln or "Unsupported" in ln),
                      detail[0] if detail else "")
        raise UnsafeCheckpointError(
            f"Refused to load {path}: it is not a plain tensor checkpoint and loading it would "
            f"execute or construct arbitrary Python objects ({detail.strip()[:300]}). eegbench "
            f"only reads checkpoints with torch.load(weights_only=True) or safetensors. If you "
            f"trust the file, convert it once in a separate process: "
            f"`torch.load(f, weights_only=False)` then "
            f"`safetensors.torch.save_file(state_dict, 'model.safetensors')`.") from err


def read_state_dict(path: Path) -> StateDict:
    """Read a safetensors / torch checkpoint (never executing code) and return its state dict.

    Raises
    ------
    UnsafeCheckpointError
        If a torch file holds anything but tensors and plain containers.
    WeightsError
        If the file holds no state dict.
    """
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path)))
    obj = safe_torch_load(path)
    for key in ("state_dict", "model", "module", "model_state_dict"):
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path} does not hold a state dict (got {type(obj).__name__}).")
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def _strip(state: StateDict, prefixes: tuple[str, ...]) -> StateDict:
    out = {}
    for k, v in state.items():
        for p in prefixes:
            if k.startswith(p):
                k = k[len(p):]
        out[k] = v
    return out


def map_cbramod(state: StateDict) -> StateDict:
    """Original CBraMod layout -> braindecode ``CBraMod``."""
    state = _strip(state, ("module.", "backbone."))
    return {k: v for k, v in state.items() if not k.startswith("classifier.")}


_LABRAM_RENAMES = [
    (r"^pos_embed$", "position_embedding"),
    (r"^time_embed$", "temporal_embedding"),
    (r"^patch_embed\.(?!temporal_conv\.)(conv|norm)", r"patch_embed.temporal_conv.\1"),
    (r"\.mlp\.fc1\.", ".mlp.0."),
    (r"\.mlp\.fc2\.", ".mlp.2."),
    (r"^head\.", "final_layer."),
]
_LABRAM_DROP = ("lm_head.", "mask_token", "teacher.", "projection_head.", "decoder.", "quantize.")


def map_labram(state: StateDict) -> StateDict:
    """Original LaBraM layout (``student.`` pretraining or fine-tuning) -> braindecode."""
    if any(k.startswith("student.") for k in state):
        state = {k[len("student."):]: v for k, v in state.items() if k.startswith("student.")}
    state = _strip(state, ("module.",))
    out = {}
    for k, v in state.items():
        if k.startswith(_LABRAM_DROP):
            continue
        for pattern, repl in _LABRAM_RENAMES:
            k = re.sub(pattern, repl, k)
        out[k] = v
    return out


def map_biot(state: StateDict) -> StateDict:
    """Original BIOT layout (bare ``BIOTEncoder`` or ``BIOTClassifier``) -> braindecode."""
    state = _strip(state, ("module.",))
    out = {}
    for k, v in state.items():
        if k.startswith("classifier."):
            continue
        if k.startswith("biot."):
            k = "encoder." + k[len("biot."):]
        elif not k.startswith(("encoder.", "final_layer.")):
            k = "encoder." + k
        out[k] = v
    return out


def map_eegpt(state: StateDict) -> StateDict:
    """Original EEGPT Lightning checkpoint -> braindecode (``target_encoder.*`` kept)."""
    state = _strip(state, ("module.",))
    if any(k.startswith("target_encoder.") for k in state):
        return {k: v for k, v in state.items()
                if not k.startswith(("encoder.", "predictor.", "reconstructor."))}
    return state


def map_braindecode(state: StateDict) -> StateDict:
    """The braindecode layout (``from_pretrained`` files): only a ``module.`` prefix removed."""
    return _strip(state, ("module.",))


KEY_MAPPINGS: dict[str, Callable[[StateDict], StateDict]] = {
    "cbramod": map_cbramod, "labram": map_labram, "biot": map_biot, "eegpt": map_eegpt,
    "braindecode": map_braindecode,
}


def _fit_shapes(state: StateDict, target: StateDict) -> StateDict:
    """Crop longer embedding tables (e.g. LaBraM's 16 time slots) to the model's length."""
    out = dict(state)
    for k, v in state.items():
        t = target.get(k)
        if t is None or t.shape == v.shape or v.ndim != t.ndim:
            continue
        if all(a >= b for a, b in zip(v.shape, t.shape, strict=True)) and k.endswith(
                ("embedding", "embed", "pe", "tokens.weight")):
            out[k] = v[tuple(slice(0, n) for n in t.shape)].clone()
            logger.info("cropped pretrained %s from %s to %s", k, tuple(v.shape),
                        tuple(t.shape))
    return out


def load_state_into(module: nn.Module, state: StateDict, *,
                    mapping: Callable[[StateDict], StateDict] | None = None,
                    skip_prefixes: tuple[str, ...] = ("final_layer.",),
                    source: str = "checkpoint") -> dict[str, list[str]]:
    """Map and load ``state`` into ``module`` (non-strict; classifier heads are skipped).

    Raises
    ------
    WeightsError
        If no key matches, or a matching key has another shape (wrong architecture).

    Returns
    -------
    dict
        ``missing`` and ``unexpected`` key lists.
    """
    if mapping is not None:
        state = mapping(state)
    target = module.state_dict()
    state = {k: v for k, v in state.items() if not k.startswith(skip_prefixes)}
    state = _fit_shapes(state, target)
    bad = [f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(target[k].shape)}"
           for k, v in state.items() if k in target and target[k].shape != v.shape]
    if bad:
        raise WeightsError(f"{source} does not fit the model architecture (check the model's "
                           f"arch_params against the checkpoint): " + "; ".join(bad[:5]))
    matched = [k for k in state if k in target]
    if not matched:
        raise WeightsError(
            f"None of the {len(state)} keys in {source} matches the model (e.g. "
            f"{list(state)[:3]} vs {list(target)[:3]}); wrong model or key layout.")
    result = module.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith(skip_prefixes)]
    if missing:
        logger.warning("%s: %d model weights not in the checkpoint (kept at init): %s", source,
                       len(missing), missing[:8])
    if result.unexpected_keys:
        logger.info("%s: %d checkpoint keys unused: %s", source, len(result.unexpected_keys),
                    result.unexpected_keys[:8])
    logger.info("loaded %d tensors from %s", len(matched), source)
    return {"missing": missing, "unexpected": list(result.unexpected_keys)}


def load_weights(module: nn.Module, source: str, *, sha256: str | None = None,
                 mapping: Callable[[StateDict], StateDict] | None = None,
                 skip_prefixes: tuple[str, ...] = ("final_layer.",),
                 allow_unpinned: bool = False) -> dict[str, list[str]]:
    """Resolve ``source``, verify it and load it into ``module`` (see :func:`load_state_into`).

    When a metadata file ``<checkpoint>.json`` lies next to the checkpoint and records a
    ``sha256``, the file is checked against it as well.
    """
    path = resolve_checkpoint(source, sha256, allow_unpinned=allow_unpinned)
    meta = read_metadata(path)
    if meta.get("sha256") and not sha256:
        resolve_checkpoint(str(path), meta["sha256"])
    return load_state_into(module, read_state_dict(path), mapping=mapping,
                           skip_prefixes=skip_prefixes, source=str(path))


def read_metadata(path: Path) -> dict[str, Any]:
    """Return the metadata json written beside a checkpoint (``<file>.json``), or ``{}``."""
    side = Path(str(path) + ".json")
    if side.is_file():
        return json.loads(side.read_text())
    return {}


def save_checkpoint(state: StateDict, path: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """Save ``state`` to ``path`` and write ``<path>.json`` with its sha256 and ``metadata``.

    A ``.safetensors`` path is written with safetensors, anything else with ``torch.save``
    (a plain dict of tensors, readable with ``weights_only=True``).

    Returns
    -------
    dict
        The metadata written (with ``sha256`` and ``file``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(tensors, str(path))
    else:
        torch.save(tensors, path)
    meta = {**metadata, "file": path.name, "sha256": sha256_of(path)}
    Path(str(path) + ".json").write_text(json.dumps(meta, indent=2, sort_keys=True,
                                                    default=str))
    return meta
