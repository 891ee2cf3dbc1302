"""In-suite self-supervised pretraining with a choice of objectives (``pretrain.objective``).

``eegbench pretrain +exp=pretrain`` pools the standardized windows of the configured datasets
(unlabelled: labels are never read), maps each dataset onto CBraMod's input contract (200 Hz,
1 s patches, 100 uV units) with the model's own adapter, and trains the encoder with one of
the objectives of :mod:`eegbench.pretraining.objectives` (default ``masked_patch``: mask a
random share of the patches and reconstruct them, CBraMod style), within a budget of steps and
minutes. The trainer and the pool are the same for every objective. The encoder is saved
with a ``<file>.json`` (sha256, architecture, objective, data, budget, loss curve) that
``model=cbramod model.params.checkpoint=<file>`` reads.

Keep the subjects you evaluate on out of ``pretrain.datasets[*].subjects``: pretraining on a
test subject's recordings, even without labels, leaks that subject into the model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eegbench.data.cache import WindowsDataset, load_windows, resolve_cache_key
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec
from eegbench.models.base import SignalSpec
from eegbench.models.brain_tokenizer import BrainTokenizer, BrainTokenizerModel, sensor_table
from eegbench.models.foundation import CBraModModel
from eegbench.models.input_contract import InputAdapter
from eegbench.models.weights.loading import save_checkpoint
from eegbench.pretraining.objectives import make_objective
from eegbench.results.provenance import git_revision
from eegbench.training.loop import seed_everything

logger = logging.getLogger(__name__)


def _plain(value: Any) -> Any:
    """Return ``value`` as plain dicts and lists (any mapping or non-string sequence)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_plain(v) for v in value]
    return value


@dataclass
class PretrainSource:
    """One dataset in the pretraining pool, with the adapter to the model's contract."""

    name: str
    windows: WindowsDataset
    adapter: InputAdapter


def model_arch(p: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """Return the architecture: ``p.architectures[kind]`` updated with ``p.arch_params``."""
    defaults = (p.get("architectures") or {}).get(kind) or {}
    return {**_plain(defaults), **_plain(p.get("arch_params") or {})}


def pool_entries(cfg: Mapping[str, Any]) -> list[tuple[str, list[str] | None]]:
    """Return ``(recipe, subjects or None)`` of every entry of ``cfg["pretrain"]["datasets"]``.

    An entry is a recipe name or a mapping ``{recipe: ..., subjects: [...] | null}``.
    """
    out = []
    for entry in cfg["pretrain"]["datasets"]:
        entry = _plain(entry) if not isinstance(entry, str) else {"recipe": entry}
        subjects = entry.get("subjects")
        out.append((str(entry["recipe"]),
                    None if subjects is None else [str(s) for s in subjects]))
    return out


def load_pool(cfg: Mapping[str, Any], kind: str = "cbramod") -> list[PretrainSource]:
    """Load every dataset listed in ``cfg["pretrain"]["datasets"]`` (recipe + optional subjects)."""
    spec = PreprocessSpec.from_config(cfg["preprocess"])
    arch = model_arch(cfg["pretrain"], kind)
    model = (BrainTokenizerModel(arch_params=arch) if kind == "brain_tokenizer"
             else CBraModModel(arch_params=arch, adaptation="from_scratch"))
    pool = []
    for recipe, subjects in pool_entries(cfg):
        ds = load_windows(load_recipe(recipe), Path(cfg["paths"]["data_root"]), spec,
                          Path(cfg["paths"]["cache_dir"]), subjects=subjects)
        adapter = InputAdapter(model.contract, ds.info["ch_names"], ds.info["sfreq"],
                               ds.X.shape[-1])
        pool.append(PretrainSource(recipe, ds, adapter))
        logger.info("pretraining pool: %s, %d windows of %d channels, subjects %s",
                    recipe, len(ds.X), ds.X.shape[1],
                    sorted(ds.meta["subject"].astype(str).unique()))
    if not pool:
        raise ValueError("pretrain.datasets is empty: list at least one dataset recipe.")
    return pool


#: Pretraining settings that decide how long a run goes or where it writes, not what it learns
#: (the optimiser has no schedule tied to ``max_steps``).
_RUN_LENGTH_KEYS = ("output", "save_at_steps", "max_steps", "max_minutes", "log_every",
                    "num_threads")


def pretraining_fingerprint(cfg: Mapping[str, Any]) -> str:
    """Return the sha256 of every setting that decides what pretraining learns.

    The ``pretrain`` block (objective, architecture, corpus entries, batch, learning rate,
    seed, ...) without the keys of run length and output, plus the preprocessing. Two runs with
    equal fingerprints and equal data cache keys (:func:`pool_cache_keys`) save the same
    encoder at the same step, so a saved encoder may be reused only then.
    """
    body = {k: v for k, v in _plain(cfg["pretrain"]).items()
            if k not in _RUN_LENGTH_KEYS}
    body["preprocess"] = _plain(cfg["preprocess"])
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def pool_cache_keys(cfg: Mapping[str, Any]) -> dict[str, str]:
    """Return ``{recipe: cache key}`` of every dataset of ``cfg["pretrain"]["datasets"]``.

    The keys change with the recordings' content, the recipe, the preprocessing and the
    standardization code; they are computed from the source files without loading windows.
    """
    spec = PreprocessSpec.from_config(cfg["preprocess"])
    return {recipe: resolve_cache_key(load_recipe(recipe), Path(cfg["paths"]["data_root"]), spec,
                                      subjects)[2]
            for recipe, subjects in pool_entries(cfg)}


def window_patches(src: PretrainSource, patch_size: int) -> int:
    """Return how many patches of ``patch_size`` samples one adapted window of ``src`` has."""
    one = src.adapter(torch.from_numpy(np.array(src.windows.X[:1], dtype=np.float32)))
    return int(one.shape[-1]) // int(patch_size)


def drop_short_windows(pool: list[PretrainSource], patch_size: int, min_patches: int
                       ) -> tuple[list[PretrainSource], list[str]]:
    """Leave out the datasets whose windows have fewer than ``min_patches`` patches.

    Returns
    -------
    kept : list of PretrainSource
    dropped : list of str
        Recipe names left out (logged and recorded in the checkpoint metadata).

    Raises
    ------
    ValueError
        If no dataset of the pool has windows long enough.
    """
    kept = [s for s in pool if window_patches(s, patch_size) >= min_patches]
    dropped = [s.name for s in pool if s not in kept]
    if dropped:
        logger.warning("pretraining pool: leaving out %s (windows shorter than %d patches of "
                       "%d samples)", dropped, min_patches, patch_size)
    if not kept:
        raise ValueError(f"No dataset of the pretraining pool has windows of at least "
                         f"{min_patches} patches of {patch_size} samples.")
    return kept, dropped


def _cbramod_objective(pool: list[PretrainSource], arch: dict[str, Any], p: Mapping[str, Any]):
    """Build the CBraMod encoder and the configured objective (``pretrain.objective``).

    Datasets whose windows are shorter than the objective needs (``min_patches``, raised to
    ``pretrain.min_patches`` when set, e.g. by a study so that every objective sees the same
    pool) are left out. Returns the encoder, the objective, the pool used and the left-out
    dataset names.
    """
    wrapper = CBraModModel(arch_params=arch, adaptation="from_scratch")
    first = pool[0]
    signal = SignalSpec.from_info(first.windows.info, first.windows.X.shape[-1])
    net = wrapper.network(signal, first.adapter)
    net.final_layer = torch.nn.Identity()
    params = {"mask_ratio": float(p["mask_ratio"]), "seed": int(p["seed"]),
              **_plain(p.get("objective_params") or {})}
    objective = make_objective(str(p.get("objective", "masked_patch")), net,
                               patch_size=int(wrapper.contract.patch_size),
                               d_model=int(net.patch_embedding.d_model),
                               sfreq=float(wrapper.contract.sfreq), **params)
    need = max(int(objective.min_patches), int(p.get("min_patches") or 1))
    pool, dropped = drop_short_windows(pool, int(wrapper.contract.patch_size), need)
    objective.prepare(_pool_sample(pool, int(p["batch_size"]), int(p["seed"])))
    return net, objective, pool, dropped


def _pool_sample(pool: list[PretrainSource], batch_size: int, seed: int,
                 n_batches: int = 8) -> list[torch.Tensor]:
    """Return up to ``n_batches`` adapted batches per pool dataset (for ``prepare``)."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for src in pool:
        n = len(src.windows.X)
        idx = np.sort(rng.choice(n, size=min(n, batch_size * n_batches), replace=False))
        out.append(src.adapter(torch.from_numpy(np.asarray(src.windows.X[idx],
                                                           dtype=np.float32))))
    return out


def _tokenizer_objective(pool: list[PretrainSource], arch: dict[str, Any]):
    net = BrainTokenizer(**arch)
    sensors = {}
    for src in pool:
        signal = SignalSpec.from_info(src.windows.info, src.windows.X.shape[-1])
        sensors[src.name] = sensor_table(signal, list(src.adapter.out_ch_names))

    def objective(src: PretrainSource, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return net.reconstruction_loss(x, sensors[src.name])

    return net, objective, {"objective": "vq_patch_reconstruction"}


def milestone_path(output: Path, step: int) -> Path:
    """Return the checkpoint path of the encoder saved at ``step`` (``pretrain.save_at_steps``)."""
    return output.with_name(f"{output.stem}_step{step}{output.suffix}")


def run_pretraining(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Pretrain CBraMod on the pooled datasets within the budget; save checkpoint + metadata.

    ``cfg`` is the job's resolved configuration (plain values: ``pretrain``, ``preprocess``
    and ``paths`` are read).

    Returns
    -------
    dict
        The metadata written beside the checkpoint.
    """
    cfg = _plain(cfg)
    p = cfg["pretrain"]
    seed_everything(int(p["seed"]))
    if p.get("num_threads"):
        torch.set_num_threads(int(p["num_threads"]))
    pool = load_pool(cfg, str(p.get("model", "cbramod")))
    kind = str(p.get("model", "cbramod"))
    arch = model_arch(p, kind)
    dropped: list[str] = []
    if kind == "brain_tokenizer":
        net, objective, described = _tokenizer_objective(pool, arch)
        heads: list[torch.nn.Parameter] = []
    elif kind == "cbramod":
        net, obj, pool, dropped = _cbramod_objective(pool, arch, p)
        described, heads = obj.describe(), list(obj.parameters())

        def objective(src: PretrainSource, x: torch.Tensor, gen: torch.Generator
                      ) -> torch.Tensor:
            return obj.loss(x, gen)
    else:
        raise ValueError(f"Invalid value for the 'pretrain.model' parameter. Allowed values "
                         f"are ['cbramod', 'brain_tokenizer'], but got {kind!r}.")
    trained = list(net.parameters()) + heads
    optimizer = torch.optim.AdamW(trained, lr=float(p["lr"]),
                                  weight_decay=float(p["weight_decay"]))
    rng = np.random.default_rng(int(p["seed"]))
    gen = torch.Generator().manual_seed(int(p["seed"]))
    sizes = np.array([len(s.windows.X) for s in pool], dtype=float)
    history: list[dict[str, float]] = []
    deadline = time.monotonic() + 60.0 * float(p["max_minutes"])
    t0 = time.monotonic()
    milestones = sorted({int(s) for s in (p.get("save_at_steps") or [])})
    out = Path(p["output"])
    fingerprint = pretraining_fingerprint(cfg)

    def save_encoder(step: int, path: Path) -> dict[str, Any]:
        state = {k: v for k, v in net.state_dict().items() if not k.startswith("final_layer.")}
        return save_checkpoint(state, path, {
            "model": kind, **described, "arch_params": arch,
            "datasets": [{"recipe": s.name, "n_windows": int(len(s.windows.X)),
                          "subjects": sorted(s.windows.meta["subject"].astype(str).unique()),
                          "cache_key": s.windows.info.get("key")} for s in pool],
            "datasets_left_out": dropped,
            "pretrain_min_patches": int(p.get("min_patches") or 1),
            "preprocess": _plain(cfg["preprocess"]),
            "steps": step, "seconds": round(time.monotonic() - t0, 1),
            "batch_size": int(p["batch_size"]), "lr": float(p["lr"]), "seed": int(p["seed"]),
            "pretrain_fingerprint": fingerprint,
            "loss_first": history[0]["loss"] if history else None,
            "loss_last": (float(np.mean([h["loss"] for h in history[-10:]])) if history
                          else None),
            "history": history[:: max(1, len(history) // 50)],
            "git_revision": git_revision(),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        })

    net.train()
    step = 0
    if 0 in milestones:  # the initial (random) encoder: the no-pretraining reference
        save_encoder(0, milestone_path(out, 0))
    while step < int(p["max_steps"]) and time.monotonic() < deadline:
        src = pool[rng.choice(len(pool), p=sizes / sizes.sum())]
        idx = np.sort(rng.choice(len(src.windows.X), size=min(int(p["batch_size"]),
                                                              len(src.windows.X)),
                                 replace=False))
        x = src.adapter(torch.from_numpy(np.asarray(src.windows.X[idx], dtype=np.float32)))
        loss = objective(src, x, gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        step += 1
        history.append({"step": step, "loss": loss.item(), "dataset": src.name})
        if step in milestones:  # intermediate encoders for probe-vs-steps curves
            save_encoder(step, milestone_path(out, step))
        if step % max(1, int(p["log_every"])) == 0:
            recent = np.mean([h["loss"] for h in history[-int(p["log_every"]):]])
            logger.info("pretrain step %d: %s loss %.4f (%.0f s)", step,
                        described["objective"], recent, time.monotonic() - t0)
    meta = save_encoder(step, Path(p["output"]))
    logger.info("pretrained %d steps in %.0f s; checkpoint %s (sha256 %s). Fine-tune with "
                "`model=cbramod model.params.checkpoint=%s`", step, meta["seconds"], out,
                meta["sha256"], out.resolve())
    return meta
