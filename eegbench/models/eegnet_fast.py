"""An exact, faster forward pass for braindecode's EEGNet (same parameters, same numbers).

EEGNet (Lawhern et al. 2018) starts with ``conv_temporal`` (F1 temporal filters of K taps,
no bias, applied to every channel), ``bnorm_temporal`` (BatchNorm over the F1 maps) and
``conv_spatial`` (a depthwise spatial filter: D weights over the C channels per temporal map,
no bias). The three are linear, affine, linear, so output map ``g`` (temporal filter
``f = g // D``) is

    z_g = a_f * conv_f(sum_c s_gc x_c) + (beta_f - a_f * mu_f) * sum_c s_gc,
    a_f = gamma_f / sqrt(var_f + eps).

Projecting the channels first and filtering the F1 * D projections costs C / D times fewer
operations than filtering every channel (19 / 2 on eegmat), and the (batch, F1, C, time)
tensor is never built: on 2 CPU threads it is 99 % of the stock network's work.

In training mode BatchNorm normalises with the batch statistics of ``conv_f(x)`` over
(batch, channel, time). They follow from the input's lag statistics without building the
tensor: ``mu_f = w_f . m`` with ``m[k]`` the mean of the zero-padded input at lag ``k``, and
``E[conv_f(x)^2] = w_f^T G w_f / N`` with ``G[k, l] = sum_{b,c,t} xp[t + k] xp[t + l]`` the
lag Gram matrix (autocorrelation by FFT minus the edge terms of the first and last K - 1
samples, accumulated in float64). Gradients flow through ``mu_f`` and ``var_f`` as in
BatchNorm; the running statistics are updated as :class:`torch.nn.BatchNorm2d` does
(momentum or cumulative average, unbiased variance ``N / (N - 1)``). In evaluation mode the
running statistics make the block purely affine.

:func:`fast_path_mismatch` says why a network does not qualify (another architecture, a
changed layer, hooks on a fused layer, autocast, ...); :func:`eegnet_forward` then runs the
stock forward. The parameters and the ``state_dict`` are the network's own: loading, saving,
layer probes (forward hooks fall back to the stock forward) and the max-norm parametrization
of ``conv_spatial`` are unchanged. ``tests/unit/test_eegnet_fast.py`` checks outputs,
gradients and running statistics against the stock forward.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from scipy.fft import next_fast_len
from torch import nn
from torch.nn.modules.module import _global_forward_hooks, _global_forward_pre_hooks

logger = logging.getLogger(__name__)

#: The children of braindecode's EEGNet, in order, up to and including the fused block.
FUSED_PREFIX = ("ensuredims", "dimshuffle", "conv_temporal", "bnorm_temporal", "conv_spatial")
FUSED_LAYERS = ("conv_temporal", "bnorm_temporal", "conv_spatial")

_logged: set[str] = set()


def _log_once(key: str, message: str, *args: object) -> None:
    if key not in _logged:
        _logged.add(key)
        logger.info(message, *args)


def is_braindecode_eegnet(net: nn.Module) -> bool:
    """True if ``net`` is an instance of braindecode's ``EEGNet`` class."""
    cls = type(net)
    return cls.__name__ == "EEGNet" and cls.__module__.startswith("braindecode.")


def _has_hooks(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks
                or getattr(module, "_forward_hooks_with_kwargs", None)
                or getattr(module, "_backward_hooks", None)
                or getattr(module, "_backward_pre_hooks", None))


def _under_functorch(*tensors: torch.Tensor | None) -> bool:
    """True if a tensor is wrapped by a torch.func transform (e.g. folds stacked by vmap)."""
    is_wrapped = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)
    return is_wrapped is not None and any(t is not None and is_wrapped(t) for t in tensors)


def structural_mismatch(net: nn.Module) -> str | None:
    """Return why ``net``'s layers differ from the EEGNet the fast path reproduces, or None.

    Checked: a braindecode ``EEGNet`` whose first children are ``ensuredims``, ``dimshuffle``,
    ``conv_temporal`` (a plain ``Conv2d`` from one input map, kernel (1, K), stride 1, zero
    padding (0, P) with P < K, no bias), ``bnorm_temporal`` (``BatchNorm2d`` tracking
    running statistics) and ``conv_spatial`` (depthwise ``Conv2d`` with kernel (C, 1),
    groups = F1, no bias).
    """
    if not is_braindecode_eegnet(net):
        return f"{type(net).__module__}.{type(net).__qualname__} is not braindecode's EEGNet"
    names = [n for n, _ in net.named_children()][:len(FUSED_PREFIX)]
    if tuple(names) != FUSED_PREFIX:
        return f"first layers are {names}, expected {list(FUSED_PREFIX)}"
    conv_t, bn, conv_s = net.conv_temporal, net.bnorm_temporal, net.conv_spatial
    if type(conv_t) is not nn.Conv2d:
        return f"conv_temporal is a {type(conv_t).__name__}, expected torch.nn.Conv2d"
    if (conv_t.in_channels != 1 or conv_t.groups != 1 or conv_t.bias is not None
            or conv_t.kernel_size[0] != 1 or tuple(conv_t.stride) != (1, 1)
            or tuple(conv_t.dilation) != (1, 1) or conv_t.padding_mode != "zeros"
            or not isinstance(conv_t.padding, tuple) or conv_t.padding[0] != 0
            or not 0 <= conv_t.padding[1] < conv_t.kernel_size[1]):
        return (f"conv_temporal settings differ (in_channels {conv_t.in_channels}, groups "
                f"{conv_t.groups}, bias {conv_t.bias is not None}, kernel {conv_t.kernel_size}, "
                f"stride {conv_t.stride}, dilation {conv_t.dilation}, padding {conv_t.padding}, "
                f"padding_mode {conv_t.padding_mode!r})")
    if type(bn) is not nn.BatchNorm2d or bn.num_features != conv_t.out_channels:
        return f"bnorm_temporal is not a BatchNorm2d over the {conv_t.out_channels} maps"
    if not bn.track_running_stats or bn.running_mean is None:
        return "bnorm_temporal does not track running statistics"
    if not isinstance(conv_s, nn.Conv2d) or type(conv_s).forward is not nn.Conv2d.forward:
        return f"conv_spatial is a {type(conv_s).__name__} with its own forward"
    if (conv_s.in_channels != conv_t.out_channels or conv_s.groups != conv_s.in_channels
            or conv_s.out_channels % conv_s.in_channels or conv_s.bias is not None
            or conv_s.kernel_size[1] != 1 or tuple(conv_s.stride) != (1, 1)
            or tuple(conv_s.dilation) != (1, 1) or tuple(conv_s.padding) != (0, 0)):
        return (f"conv_spatial is not a depthwise (C, 1) convolution without bias "
                f"(groups {conv_s.groups}, kernel {conv_s.kernel_size}, padding "
                f"{conv_s.padding}, bias {conv_s.bias is not None})")
    return None


def fast_path_mismatch(net: nn.Module, x: torch.Tensor) -> str | None:
    """Return why this call cannot take the fast path (None: it can).

    On top of :func:`structural_mismatch`: the input must be (batch, channels, time) with
    the network's channel count and at least 2K samples;
    no hook may watch a fused layer (layer probes read their outputs), autocast must be off
    (the stock forward then runs under it), and no torch.func transform may wrap the input or
    the weights (fold-parallel training stacks folds with vmap and its own layer rules).
    """
    reason = structural_mismatch(net)
    if reason is not None:
        return reason
    if x.dim() != 3:
        return f"input has {x.dim()} dimensions, expected (batch, channels, time)"
    if x.shape[1] != net.conv_spatial.kernel_size[0]:
        return f"input has {x.shape[1]} channels, conv_spatial expects " \
               f"{net.conv_spatial.kernel_size[0]}"
    kernel = net.conv_temporal.kernel_size[1]
    if x.shape[2] < 2 * kernel:
        return f"input has {x.shape[2]} samples, fewer than 2 x {kernel} (the fast path's " \
               f"edge terms)"
    if any(_has_hooks(getattr(net, n)) for n in FUSED_PREFIX) or _has_hooks(net):
        return "hooks are registered on a fused layer"
    if _global_forward_hooks or _global_forward_pre_hooks:
        return "global module hooks are registered"
    if torch.is_autocast_enabled(x.device.type):
        return "autocast is enabled"
    if _under_functorch(x, net.conv_temporal.weight, net.bnorm_temporal.running_mean):
        return "running under a torch.func transform (vmap, grad): the stock layers carry " \
               "its rules"
    if not x.is_floating_point():
        return f"input dtype {x.dtype} is not floating point"
    return None


def spectrum_length(n_times: int, kernel: int, padding: int) -> int:
    """Return the FFT length for K-tap filters and lag sums up to K - 1 on ``n_times``.

    Long enough that neither the autocorrelation at lags below K nor the zero-padded
    correlation (:func:`circular_taps`) wraps around: ``n >= T + K - 1`` and ``n >= T + P``.
    """
    return int(next_fast_len(max(n_times + kernel - 1, n_times + padding), real=True))


def circular_taps(taps: torch.Tensor, padding: int, n_fft: int) -> torch.Tensor:
    """Place K-tap filters on a circle of ``n_fft`` samples (the padding folded in).

    Circular correlation of the *unpadded* signal with them gives the zero-padded
    correlation, without a padded copy of the signal. Output sample ``t`` of the padded
    correlation is ``sum_j taps[j + P] * x[t + j]`` for ``j`` in ``[-P, K - P)``: tap
    ``j + P`` goes to position ``j mod n_fft``.
    """
    kernel = taps.shape[-1]
    zeros = taps.new_zeros(*taps.shape[:-1], n_fft - kernel)
    return torch.cat([taps[..., padding:], zeros, taps[..., :padding]], dim=-1)


def correlate_spectrum(spectrum: torch.Tensor, taps: torch.Tensor, padding: int,
                       n_fft: int, n_out: int) -> torch.Tensor:
    """Return the zero-padded correlation of signals with per-map taps from their spectrum.

    ``spectrum`` is ``rfft(signals, n_fft)`` (..., maps, n_fft // 2 + 1), ``taps`` (maps, K);
    the result is ``conv1d(signals, taps, padding=padding, groups=maps)`` (..., maps, n_out).
    """
    kernel_spectrum = torch.fft.rfft(circular_taps(taps, padding, n_fft), n=n_fft)
    return torch.fft.irfft(spectrum * kernel_spectrum.conj(), n=n_fft)[..., :n_out]


def fft_correlate(signals: torch.Tensor, taps: torch.Tensor, padding: int) -> torch.Tensor:
    """Return ``conv1d(signals, taps, padding=padding, groups=maps)`` computed by FFT.

    ``signals`` (batch, maps, time), ``taps`` (maps, K). On the CPU, PyTorch's grouped
    (depthwise) convolution, forward and above all backward, is many times slower than this.
    """
    kernel = taps.shape[-1]
    n_times = signals.shape[-1]
    n_fft = spectrum_length(n_times, kernel, padding)
    return correlate_spectrum(torch.fft.rfft(signals, n=n_fft), taps, padding, n_fft,
                              n_times + 2 * padding - kernel + 1)


def lag_statistics(x: torch.Tensor, kernel: int, padding: int,
                   spectrum: torch.Tensor | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Return the lag means ``m`` (K,), lag Gram matrix ``G`` (K, K) and count ``N``.

    For ``xp`` the input (batch, channels, time) zero-padded by ``padding`` samples on both
    sides and ``T' = T + 2 * padding - K + 1`` output samples,
    ``m[k] = sum_{b,c,t<T'} xp[t + k] / N`` and ``G[k, l] = sum_{b,c,t<T'} xp[t + k] xp[t + l]``
    with ``N = batch * channels * T'``, so that a K-tap filter ``w`` applied to the padded
    input has mean ``w . m`` and mean square ``w^T G w / N``. The full autocorrelation comes
    from the power spectrum (``spectrum``: the rfft of length :func:`spectrum_length` of
    every row of ``x``, in any order; computed when not given), minus the products the first
    and last output samples leave out (small Gram matrices of the first 2K - 2 and last K - 1
    padded samples); sums in float64.
    """
    rows = x.reshape(-1, x.shape[-1])
    n_rows, n_times = rows.shape
    n_out = n_times + 2 * padding - kernel + 1
    count = n_rows * n_out
    n_fft = spectrum_length(n_times, kernel, padding)
    if spectrum is None:
        spectrum = torch.fft.rfft(x, n=n_fft)
    lags = torch.arange(kernel, device=x.device)
    # full lag sums F[d] = sum_{rows, s} x[s] x[s + d] (the zero padding adds nothing)
    parts = torch.view_as_real(spectrum).reshape(-1, 2 * spectrum.shape[-1])
    power = (parts * parts).sum(0).reshape(-1, 2).sum(-1).to(torch.float64)
    full = torch.fft.irfft(power, n=n_fft)[:kernel]
    # q[d, s] = sum_rows xp[s] xp[s + d] where the output window leaves products out: the
    # first K - 1 positions of the padded input (head: its samples 0 .. 2K - 3) and the last
    # K - 1 (tail)
    edge = kernel - 1
    starts = torch.arange(edge, device=x.device)
    pos = starts[None, :] + lags[:, None]  # (K, K - 1): s + d
    # the padded head is [P zeros, x[0 .. 2K - 3 - P]]: its Gram matrix is x's, shifted by P
    samples = rows[:, :max(2 * edge - padding, 0)]
    gram_head = F.pad((samples.T @ samples).to(torch.float64),
                      (padding, 0, padding, 0))[:2 * edge, :2 * edge]
    q_head = gram_head[starts[None, :].expand_as(pos), pos]
    left = F.pad(torch.cumsum(q_head, dim=1), (1, 0))  # left[d, k] = sum_{s<k} q[d, s]
    tail = F.pad(rows[:, n_times - (edge - padding):], (0, padding))
    gram_tail = (tail.T @ tail).to(torch.float64)
    q_tail = torch.where(pos < edge, gram_tail[starts[None, :].expand_as(pos),
                                               pos.clamp(max=edge - 1)],
                         torch.zeros((), dtype=torch.float64, device=x.device))
    # right[d, k] = sum_{r >= k} q_tail[d, r]: products past output sample T' - 1 + k
    right = F.pad(torch.flip(torch.cumsum(torch.flip(q_tail, [1]), dim=1), [1]), (0, 1))
    k_idx, l_idx = torch.meshgrid(lags, lags, indexing="ij")
    d_idx, first = (l_idx - k_idx).abs(), torch.minimum(k_idx, l_idx)
    gram = full[d_idx] - left[d_idx, first] - right[d_idx, first]
    sums = F.pad(torch.cumsum(F.pad(rows.sum(0).to(torch.float64), (padding, padding)),
                              dim=0), (1, 0))
    means = (sums[lags + n_out] - sums[lags]) / count
    return means, gram, count


def fused_temporal_spatial(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Return ``conv_spatial(bnorm_temporal(conv_temporal(x)))`` (batch, F1 * D, 1, T').

    The channels are projected in the frequency domain (the input's spectrum serves the
    BatchNorm statistics too), then each projection is filtered by its temporal filter.
    Updates ``bnorm_temporal``'s running statistics in training mode, as the stock layer.
    """
    conv_t, bn, conv_s = net.conv_temporal, net.bnorm_temporal, net.conv_spatial
    kernel, padding = conv_t.kernel_size[1], conv_t.padding[1]
    n_maps, depth = conv_t.out_channels, conv_s.out_channels // conv_s.in_channels
    n_times = x.shape[-1]
    n_out = n_times + 2 * padding - kernel + 1
    n_fft = spectrum_length(n_times, kernel, padding)
    taps = conv_t.weight.reshape(n_maps, kernel)
    spatial = conv_s.weight.reshape(conv_s.out_channels, -1)  # max-norm parametrized
    # channels first, so that the projection is one matrix product without a transposed copy
    spectrum = torch.fft.rfft(x.transpose(0, 1), n=n_fft)  # (channels, batch, frequencies)
    if bn.training or bn.running_mean is None:  # batch statistics, as BatchNorm in training
        means, gram, count = lag_statistics(x, kernel, padding, spectrum)
        taps64 = taps.to(torch.float64)
        mean = taps64 @ means
        var = (torch.einsum("fk,kl,fl->f", taps64, gram, taps64) / count
               - mean.square()).clamp_min(0.0)
        mean, var = mean.to(x.dtype), var.to(x.dtype)
        if bn.training and bn.track_running_stats:
            with torch.no_grad():
                bn.num_batches_tracked.add_(1)
                factor = (1.0 / float(bn.num_batches_tracked) if bn.momentum is None
                          else bn.momentum)
                bn.running_mean.mul_(1 - factor).add_(mean.detach() * factor)
                unbiased = var.detach() * (count / max(count - 1, 1))
                bn.running_var.mul_(1 - factor).add_(unbiased * factor)
    else:
        mean, var = bn.running_mean, bn.running_var
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    n_chans, n_batch, n_freq = spectrum.shape
    projected = torch.view_as_complex((spatial @ torch.view_as_real(spectrum).reshape(
        n_chans, -1)).reshape(spatial.shape[0], n_batch, n_freq, 2))
    filtered = correlate_spectrum(projected, taps.repeat_interleave(depth, 0)[:, None],
                                  padding, n_fft, n_out)  # (maps, batch, T')
    out = (filtered * scale.repeat_interleave(depth)[:, None, None]
           + (shift.repeat_interleave(depth) * spatial.sum(1))[:, None, None])
    return out.transpose(0, 1).contiguous().unsqueeze(2)


def eegnet_forward(net: nn.Module, x: torch.Tensor, fast: bool = True) -> torch.Tensor:
    """Run braindecode's EEGNet ``net`` on ``x``: the fused block when it applies, else stock.

    Parameters
    ----------
    net : nn.Module
        A braindecode EEGNet (any other network runs its own forward).
    x : Tensor, shape (batch, channels, time)
        Input windows.
    fast : bool
        False always runs the stock forward.
    """
    reason = fast_path_mismatch(net, x) if fast else "disabled (model.params.fast_path: false)"
    if reason is not None:
        _log_once(f"stock:{reason}", "EEGNet: stock forward (%s)", reason)
        return net(x)
    _log_once("fast", "EEGNet: exact fused temporal-spatial forward "
              "(eegbench.models.eegnet_fast; model.params.fast_path: false turns it off)")
    out = fused_temporal_spatial(net, x)
    for _, layer in list(net.named_children())[len(FUSED_PREFIX):]:
        if is_depthwise_temporal(layer):
            out = depthwise_temporal(layer, out)
        elif is_temporal_avg_pool(layer):
            out = temporal_avg_pool(layer, out)
        else:
            out = layer(out)
    return out


def is_temporal_avg_pool(layer: nn.Module) -> bool:
    """True for a plain ``AvgPool2d`` over time: kernel (1, k), stride (1, k), no padding."""
    if type(layer) is not nn.AvgPool2d or _has_hooks(layer):
        return False
    kernel = tuple(layer.kernel_size) if isinstance(layer.kernel_size, tuple) \
        else (layer.kernel_size,) * 2
    stride = tuple(layer.stride) if isinstance(layer.stride, tuple) else (layer.stride,) * 2
    padding = tuple(layer.padding) if isinstance(layer.padding, tuple) \
        else (layer.padding,) * 2
    return (kernel[0] == 1 and stride == kernel and padding == (0, 0) and not layer.ceil_mode
            and layer.divisor_override is None)


def temporal_avg_pool(layer: nn.AvgPool2d, h: torch.Tensor) -> torch.Tensor:
    """Return ``layer(h)`` as a mean over reshaped time blocks (same numbers, faster)."""
    width = layer.kernel_size[1] if isinstance(layer.kernel_size, tuple) else layer.kernel_size
    n_blocks = h.shape[-1] // width
    return h[..., :n_blocks * width].reshape(*h.shape[:-1], n_blocks, width).mean(-1)


def is_depthwise_temporal(layer: nn.Module) -> bool:
    """True for a plain depthwise temporal ``Conv2d`` (EEGNet's ``conv_separable_depth``).

    Kernel (1, K), one filter per map (groups = in = out channels), stride and dilation 1,
    zero padding (0, P) with P < K, no bias, no hooks: :func:`depthwise_temporal` computes it.
    """
    return (type(layer) is nn.Conv2d and layer.groups == layer.in_channels
            == layer.out_channels and layer.kernel_size[0] == 1 and layer.bias is None
            and tuple(layer.stride) == (1, 1) and tuple(layer.dilation) == (1, 1)
            and layer.padding_mode == "zeros" and isinstance(layer.padding, tuple)
            and layer.padding[0] == 0 and layer.padding[1] < layer.kernel_size[1]
            and not _has_hooks(layer))


def depthwise_temporal(layer: nn.Conv2d, h: torch.Tensor) -> torch.Tensor:
    """Return ``layer(h)`` for a depthwise temporal convolution, by FFT (same numbers)."""
    taps = layer.weight.reshape(layer.out_channels, layer.kernel_size[1])
    return fft_correlate(h.squeeze(2), taps, layer.padding[1]).unsqueeze(2)
