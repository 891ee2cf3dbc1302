"""The networks of several folds as one stack of tensors, run together with ``vmap``.

:class:`FoldStack` stacks the parameters and the BatchNorm statistics of the folds' networks
(one architecture, one network per fold, each initialised from its fold's seed) along a new
leading axis and runs a private, weightless copy of the architecture over them with
:func:`torch.func.functional_call` under :func:`torch.func.vmap`: fold ``f``'s weights see
fold ``f``'s batch only. Calls may cover a subset of the folds (those still training, or
those whose batch has a given size); their BatchNorm statistics are written back.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence

import torch
from torch import nn
from torch.func import functional_call, vmap

from eegbench.training.fold_parallel.functional import patch_layers, set_generators

_BN = nn.modules.batchnorm._BatchNorm

# vmap runs renorm (braindecode's max-norm constraint) fold by fold, which is exact; its
# warning about the missing batching rule is not actionable here
warnings.filterwarnings("ignore", message="There is a performance drop because we have not "
                        "yet implemented the batching rule for aten::renorm")


class NotStackable(ValueError):
    """The networks cannot be trained as one stack (the message says why)."""


def _batchnorm_buffer_names(module: nn.Module) -> set[str]:
    names = set()
    for prefix, layer in module.named_modules():
        if isinstance(layer, _BN):
            names.update(f"{prefix}.{n}" if prefix else n
                         for n, _ in layer.named_buffers(recurse=False))
    return names


class FoldStack:
    """Several folds' networks of one architecture, stacked.

    Parameters
    ----------
    modules : list of nn.Module
        One network per fold (same architecture and parameter names); their weights are
        copied into the stack (load results back with :meth:`fold_state`).
    device : torch.device
        Where the stack lives.
    exact : bool
        Run each fold's convolutions separately (bit-identical to one fold at a time on
        the CPU with one thread); otherwise one grouped convolution covers the folds.
    seeds : sequence of int
        Each fold's seed: its dropout masks come from a generator seeded with it.
    """

    def __init__(self, modules: Sequence[nn.Module], device: torch.device, exact: bool,
                 seeds: Sequence[int]) -> None:
        if len(modules) < 1 or len(seeds) != len(modules):
            raise ValueError(f"FoldStack needs one seed per network, got {len(modules)} "
                             f"networks and {len(seeds)} seeds.")
        first = modules[0]
        self.n_folds, self.device, self.exact = len(modules), device, bool(exact)
        named = [dict(m.named_parameters()) for m in modules]
        buffers = [dict(m.named_buffers()) for m in modules]
        for k, (p, b) in enumerate(zip(named, buffers, strict=True)):
            if [(n, t.shape) for n, t in p.items()] != [(n, t.shape) for n, t in
                                                         named[0].items()] or \
                    list(b) != list(buffers[0]):
                raise NotStackable(f"the network of fold {k} differs in its parameters or "
                                   f"buffers from the network of fold 0.")
        with torch.no_grad():
            self.params = {n: torch.stack([p[n].detach() for p in named]).to(device)
                           .requires_grad_(t.requires_grad) for n, t in named[0].items()}
            per_fold = _batchnorm_buffer_names(first)
            self.fold_buffers = {n: torch.stack([b[n].detach() for b in buffers]).to(device)
                                 for n in buffers[0] if n in per_fold}
            self.shared = {}
            for name in buffers[0]:
                if name in per_fold:
                    continue
                if any(not torch.equal(b[name], buffers[0][name]) for b in buffers[1:]):
                    raise NotStackable(f"buffer {name!r} differs between folds and is not a "
                                       f"BatchNorm statistic.")
                self.shared[name] = buffers[0][name].detach().to(device)
        self.base = copy.deepcopy(first).to("meta")
        self.layers = patch_layers(self.base, self.exact)
        self.generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
        self._indices: dict[tuple[int, ...], torch.Tensor] = {}
        self._bn_buffers = {id(m): [f"{prefix}.{n}" if prefix else n
                                    for n, _ in m.named_buffers(recurse=False)]
                            for prefix, m in self.base.named_modules() if isinstance(m, _BN)}

    # ----------------------------------------------------------------- running the stack
    def train(self, mode: bool = True) -> None:
        """Set the stack's layers to training (or evaluation) mode."""
        self.base.train(mode)

    def _call(self, params, fold_buffers, x):
        return functional_call(self.base, {**params, **fold_buffers, **self.shared}, (x,))

    def index(self, folds: Sequence[int]) -> torch.Tensor:
        """Return ``folds`` as an index tensor on the device (cached: no copy per step)."""
        key = tuple(int(f) for f in folds)
        if key not in self._indices:
            self._indices[key] = torch.tensor(key, dtype=torch.long, device=self.device)
        return self._indices[key]

    def all_folds(self, folds: Sequence[int]) -> bool:
        """True if ``folds`` is every fold of the stack, in order."""
        return len(folds) == self.n_folds and list(folds) == list(range(self.n_folds))

    def __call__(self, x: torch.Tensor, folds: Sequence[int]) -> torch.Tensor:
        """Run folds ``folds`` on ``x`` (folds, batch, ...); return (folds, batch, outputs)."""
        folds = list(folds)
        if len(folds) != x.shape[0]:
            raise ValueError(f"{len(folds)} folds for a batch of {x.shape[0]} folds.")
        set_generators(self.layers["dropout"], [self.generators[f] for f in folds])
        if self.all_folds(folds):
            return vmap(self._call, randomness="error")(self.params, self.fold_buffers, x)
        index = self.index(folds)
        params = {n: p.index_select(0, index) for n, p in self.params.items()}
        buffers = {n: b.index_select(0, index) for n, b in self.fold_buffers.items()}
        out = vmap(self._call, randomness="error")(params, buffers, x)
        if any(m.training for m in self.layers["batchnorm"]):  # statistics moved: keep them
            with torch.no_grad():
                for name, value in buffers.items():
                    self.fold_buffers[name].index_copy_(0, index, value)
        return out

    def zero_grad(self) -> None:
        """Forget the gradients of every fold."""
        for p in self.params.values():
            p.grad = None

    # ------------------------------------------------------------ BatchNorm re-estimation
    def batchnorm_layers(self, trainable_only: bool = True) -> list[nn.Module]:
        """Return the stack's BatchNorm layers that track statistics (and are trained)."""
        out = []
        for prefix, module in self.base.named_modules():
            if not isinstance(module, _BN) or not module.track_running_stats:
                continue
            names = [f"{prefix}.{n}" if prefix else n
                     for n, _ in module.named_parameters(recurse=False)]
            if not trainable_only or any(self.params[n].requires_grad for n in names):
                out.append(module)
        return out

    @torch.no_grad()
    def reset_batchnorm(self, layers: Sequence[nn.Module], folds: Sequence[int]) -> None:
        """Reset the running statistics of ``layers`` for ``folds`` (as ``reset_running_stats``)."""
        index = self.index(folds)
        for layer in layers:
            for name in self._bn_buffers[id(layer)]:
                value = self.fold_buffers[name]
                fill = 1.0 if name.endswith("running_var") else 0.0
                value.index_fill_(0, index, fill)

    # ------------------------------------------------------------------ fold states
    def snapshot(self) -> dict[str, torch.Tensor]:
        """Return a copy of every fold's parameters and BatchNorm statistics."""
        with torch.no_grad():
            return {n: t.detach().clone() for n, t in {**self.params,
                                                       **self.fold_buffers}.items()}

    @torch.no_grad()
    def update_snapshot(self, snapshot: dict[str, torch.Tensor], folds: Sequence[int]) -> None:
        """Copy the current state of ``folds`` into ``snapshot``."""
        index = self.index(folds)
        for name, value in {**self.params, **self.fold_buffers}.items():
            snapshot[name].index_copy_(0, index, value.detach().index_select(0, index))

    def fold_state(self, fold: int, snapshot: dict[str, torch.Tensor] | None = None
                   ) -> dict[str, torch.Tensor]:
        """Return fold ``fold``'s tensors by name (from ``snapshot``, or the current state)."""
        source = snapshot if snapshot is not None else {**self.params, **self.fold_buffers}
        state = {n: t[fold].detach().clone() for n, t in source.items()}
        state.update({n: t.clone() for n, t in self.shared.items()})
        return state


def load_fold_state(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Load a :meth:`FoldStack.fold_state` into a fold's network (its persistent entries)."""
    keys = module.state_dict().keys()
    module.load_state_dict({k: v for k, v in state.items() if k in keys})
