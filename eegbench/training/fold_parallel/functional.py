"""Per-fold batching rules for the layers whose default ``vmap`` rule mixes or alters folds.

Under :func:`torch.func.vmap` most layers already compute each fold exactly as the fold's own
network would. Three need a rule of their own, given here as :class:`torch.autograd.Function`
subclasses with a ``vmap`` staticmethod (the operations a rule runs are what autograd
records, so their backward is the native one):

* **BatchNorm** (:class:`PackedBatchNorm`): the folds are packed into the channel axis
  (batch, folds x channels, ...) and the native kernel runs once; each channel's statistics
  are those of its own fold, the running statistics of every fold are updated in place, and
  forward and backward are bit-identical to one fold at a time (the default rule's backward
  is not).
* **Dropout** (:class:`FoldDropout`): each fold draws its mask from its own generator,
  seeded with the fold's seed, exactly as the sequential loop draws it from the global
  generator seeded with the same seed; a fold's masks do not depend on the other folds.
* **Convolution, exact mode** (:class:`PerFoldConv`): each fold's convolution runs on its
  own (one kernel call per fold, bit-identical to the sequential path on the CPU); the
  default rule (used in fast mode) runs one grouped convolution over all folds, whose weight
  gradients differ from the per-fold ones in the last bits.

:func:`patch_layers` installs these rules on the forward of a network's layers (on the
stack's private, weightless copy of the network; the folds' own networks are not touched).
"""

from __future__ import annotations

import types
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

_BN = nn.modules.batchnorm._BatchNorm
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _fold_first(t: torch.Tensor | None, dim: int | None, size: int) -> torch.Tensor | None:
    if t is None:
        return None
    if dim is None:
        return t.expand(size, *t.shape)
    return t.movedim(dim, 0)


class PackedBatchNorm(torch.autograd.Function):
    """``F.batch_norm`` whose ``vmap`` rule packs the folds into the channel axis."""

    generate_vmap_rule = False

    @staticmethod
    def forward(x, running_mean, running_var, weight, bias, training, momentum,  # noqa: D102
                eps, num_batches_tracked):
        return F.batch_norm(x, running_mean, running_var, weight, bias, training,
                            momentum if momentum is not None else 0.0, eps)

    @staticmethod
    def setup_context(ctx, inputs, output):  # noqa: D102
        pass

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        raise RuntimeError("PackedBatchNorm is only differentiated through its vmap rule.")

    @staticmethod
    def vmap(info, in_dims, x, running_mean, running_var, weight, bias,  # noqa: D102
             training, momentum, eps, num_batches_tracked):
        size = info.batch_size
        x = _fold_first(x, in_dims[0], size)
        rm, rv, w, b = (_fold_first(t, d, size) for t, d in
                        zip((running_mean, running_var, weight, bias), in_dims[1:5],
                            strict=True))
        if momentum is None and training and rm is not None:
            # cumulative average (BatchNorm re-estimation): factor 1 / batches seen, per fold
            counts = _fold_first(num_batches_tracked, in_dims[8], size).tolist()
            if len(set(counts)) > 1:
                outs = [F.batch_norm(x[g], rm[g], rv[g], None if w is None else w[g],
                                     None if b is None else b[g], True, 1.0 / counts[g], eps)
                        for g in range(size)]
                return torch.stack(outs), 0
            momentum = 1.0 / counts[0]
        batch, channels = x.shape[1], x.shape[2]
        packed = x.transpose(0, 1).reshape(batch, size * channels, *x.shape[3:])
        flat = [None if t is None else t.reshape(-1) for t in (rm, rv, w, b)]
        out = F.batch_norm(packed, flat[0], flat[1], flat[2], flat[3], training,
                           momentum if momentum is not None else 0.0, eps)
        for stats, updated in ((rm, flat[0]), (rv, flat[1])):
            if stats is not None and training and updated.data_ptr() != stats.data_ptr():
                stats.copy_(updated.view_as(stats))  # a copy was updated: write it back
        return out.reshape(batch, size, channels, *x.shape[3:]).transpose(0, 1).contiguous(), 0


def _batchnorm_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``_BatchNorm.forward`` with the statistics update routed through PackedBatchNorm."""
    self._check_input_dim(x)
    factor = 0.0 if self.momentum is None else self.momentum
    if self.training and self.track_running_stats and self.num_batches_tracked is not None:
        self.num_batches_tracked.add_(1)
        factor = None if self.momentum is None else self.momentum
    bn_training = self.training or (self.running_mean is None and self.running_var is None)
    use_stats = not self.training or self.track_running_stats
    return PackedBatchNorm.apply(x, self.running_mean if use_stats else None,
                                 self.running_var if use_stats else None, self.weight,
                                 self.bias, bn_training, factor, self.eps,
                                 self.num_batches_tracked)


class FoldDropout(torch.autograd.Function):
    """Dropout whose ``vmap`` rule draws each fold's mask from that fold's generator."""

    generate_vmap_rule = False

    @staticmethod
    def forward(x, p, generators):  # noqa: D102
        raise RuntimeError("FoldDropout runs only under vmap (one generator per fold).")

    @staticmethod
    def setup_context(ctx, inputs, output):  # noqa: D102
        pass

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        raise RuntimeError("FoldDropout is only differentiated through its vmap rule.")

    @staticmethod
    def vmap(info, in_dims, x, p, generators):  # noqa: D102
        x = _fold_first(x, in_dims[0], info.batch_size)
        if len(generators) != info.batch_size:
            raise RuntimeError(f"FoldDropout got {len(generators)} generators for "
                               f"{info.batch_size} folds.")
        # the sequential kernel (ATen _dropout_impl on the CPU): bernoulli_(1 - p), / (1 - p)
        noise = torch.stack([torch.empty_like(x[g]).bernoulli_(1 - p, generator=gen)
                             for g, gen in enumerate(generators)])
        noise.div_(1 - p)
        return x * noise, 0


def _dropout_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if not self.training or self.p == 0:
        return x
    if self.p == 1:
        return x * torch.zeros((), dtype=x.dtype, device=x.device)
    return FoldDropout.apply(x, float(self.p), self.fold_generators)


class PerFoldConv(torch.autograd.Function):
    """A convolution whose ``vmap`` rule runs one kernel call per fold (exact mode)."""

    generate_vmap_rule = False

    @staticmethod
    def forward(x, weight, bias, stride, padding, dilation, groups):  # noqa: D102
        return _CONV[weight.dim() - 2](x, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def setup_context(ctx, inputs, output):  # noqa: D102
        pass

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        raise RuntimeError("PerFoldConv is only differentiated through its vmap rule.")

    @staticmethod
    def vmap(info, in_dims, x, weight, bias, stride, padding, dilation, groups):  # noqa: D102
        size = info.batch_size
        x, weight = _fold_first(x, in_dims[0], size), _fold_first(weight, in_dims[1], size)
        bias = _fold_first(bias, in_dims[2], size)
        conv = _CONV[weight.dim() - 3]
        outs = [conv(x[g], weight[g], None if bias is None else bias[g], stride, padding,
                     dilation, groups) for g in range(size)]
        return torch.stack(outs), 0


def _conv_forward(self: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return PerFoldConv.apply(x, self.weight, self.bias, self.stride, self.padding,
                             self.dilation, self.groups)


def patch_layers(network: nn.Module, exact: bool) -> dict[str, list[nn.Module]]:
    """Install the per-fold rules on ``network``'s layers (in place); return them by kind.

    Every BatchNorm and Dropout layer gets its rule; with ``exact``, every ``Conv1d/2d/3d``
    with zero padding too. Returns ``{"batchnorm": [...], "dropout": [...], "conv": [...]}``.
    """
    found: dict[str, list[nn.Module]] = {"batchnorm": [], "dropout": [], "conv": []}
    for module in network.modules():
        if isinstance(module, _BN):
            module.forward = types.MethodType(_batchnorm_forward, module)
            found["batchnorm"].append(module)
        elif type(module) is nn.Dropout:
            module.forward = types.MethodType(_dropout_forward, module)
            module.fold_generators = []
            found["dropout"].append(module)
        elif (exact and isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d)
              and module.padding_mode == "zeros"):
            module.forward = types.MethodType(_conv_forward, module)
            found["conv"].append(module)
    return found


def set_generators(dropouts: list[nn.Module], generators: list[Any]) -> None:
    """Give every patched dropout layer the generators of the folds in the next call."""
    for module in dropouts:
        module.fold_generators = generators
