"""Parameter-efficient fine-tuning with the `peft` library: LoRA, DoRA, IA3, AdaLoRA, OFT.

``model.adaptation`` values:

- ``lora``, ``dora``, ``ia3``, ``adalora``, ``oft``: the pretrained encoder is frozen, adapters
  from :mod:`peft` are injected into its attention / feed-forward layers and trained together
  with the benchmark's linear head;
- ``probe_then_<method>`` (two-stage, as LP-FT): first a linear probe on the frozen encoder's
  features, then the same PEFT method starting from the probed head.

Adapters are injected in place (peft's tuner classes), so the model stays an
:class:`~eegbench.models.torch_model.EncoderClassifier` (features, head, layer probing and
save / load keep working); the frozen base weights live on unchanged in each adapted layer's
``base_layer``. Target modules default per family (:data:`FAMILY_TARGETS`: the attention
projections and MLP layers of each transformer, as in the LoRA and OpenEEGBench set-ups), and
otherwise every ``nn.Linear`` of the encoder. The ``out_proj`` of a
``torch.nn.MultiheadAttention`` is never targeted: that module uses the weight directly, so an
adapter there would do nothing (CBraMod, Signal-JEPA and BENDR are adapted in their
feed-forward layers only). Method settings (:data:`DEFAULTS`) are peft's own defaults except
where a value is needed to make the method well defined (AdaLoRA's schedule from the actual
number of steps; OFT's block size from the layer widths).
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_post_hook

from eegbench.adaptation.builtins import PEFT_ADAPTATIONS, PEFT_METHODS, TWO_STAGE_PREFIX
from eegbench.adaptation.registry import Adaptation
from eegbench.training.loop import fit_classifier, resolve_device

logger = logging.getLogger(__name__)

#: The peft methods (every ``model.adaptation`` value this module handles:
#: :data:`~eegbench.adaptation.builtins.PEFT_ADAPTATIONS`).
METHODS = PEFT_METHODS

#: Method settings (peft defaults: LoRA r=8, alpha=8, dropout 0; the LoRA paper's
#: r=8 / alpha=16 on attention projections is what OpenEEGBench's recipe follows).
DEFAULTS: dict[str, dict[str, Any]] = {
    "lora": {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0},
    "dora": {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0, "use_dora": True},
    "ia3": {},
    "adalora": {"init_r": 12, "target_r": 8, "lora_alpha": 16},
    "oft": {"oft_block_size": 0},  # 0: chosen from the layer widths (see _oft_block_size)
}

#: braindecode class -> (attention / MLP layers relative to the network, feed-forward layers
#: for IA3). Names read from the braindecode 1.8.1 implementations.
FAMILY_TARGETS: dict[str, tuple[str, str]] = {
    "CBraMod": (r"encoder\.layers\.\d+\.(self_attn_[st]\.out_proj|linear1|linear2)",
                r".*linear2"),
    "Labram": (r"blocks\.\d+\.(attn\.(qkv|proj)|mlp\.(0|2))", r".*mlp\.2"),
    "BIOT": (r"encoder\.transformer\.layers\.layers\.\d+\.(0\.fn\.(to_q|to_k|to_v|to_out)|"
             r"1\.fn\.fn\.(w1|w2))", r".*w2"),
    "EEGPT": (r"target_encoder\.blocks\.\d+\.(attn\.(qkv|proj)|mlp\.(fc1|fc2))", r".*fc2"),
    "REVE": (r"transformer\.layers\.\d+\.(0\.(to_qkv|to_out)|1\.net\.(1|3))", r".*net\.3"),
    "LUNA": (r"blocks\.\d+\.(attn\.(qkv_proj|proj)|mlp\.(fc1|fc2))", r".*fc2"),
    "SignalJEPA": (r"transformer\.encoder\.layers\.\d+\.(self_attn\.out_proj|linear1|linear2)",
                   r".*linear2"),
    "BENDR": (r"contextualizer\.transformer_layers\.\d+\.(self_attn\.out_proj|linear1|"
              r"linear2)", r".*linear2"),
    "CodeBrain": (r"residual_layer\.residual_blocks\.\d+\.(attention\.out_proj|"
                  r"sgconv\.output_linear)", r".*output_linear"),
    "EEGDINO": (r"encoder_layers\.\d+\.(attn\.(qkv|proj)|mlp\.(fc1|fc2))", r".*fc2"),
}

_ADAPTER_MARKERS = ("lora_", "ia3_", "oft_", "ranknum")


def method_of(adaptation: str) -> tuple[str, bool]:
    """Return (peft method, two-stage?) for an adaptation value.

    Raises
    ------
    ValueError
        For a value that is not in :data:`PEFT_ADAPTATIONS`.
    """
    if adaptation not in PEFT_ADAPTATIONS:
        raise ValueError(f"Invalid value for the 'adaptation' parameter. Allowed PEFT values are "
                         f"{list(PEFT_ADAPTATIONS)}, but got {adaptation!r}.")
    two_stage = adaptation.startswith(TWO_STAGE_PREFIX)
    return adaptation[len(TWO_STAGE_PREFIX):] if two_stage else adaptation, two_stage


def _network_path(module: nn.Module) -> tuple[str, str]:
    """Return (path, braindecode class name) of the braindecode network inside ``module``."""
    for path, sub in module.encoder.named_modules():
        if type(sub).__module__.startswith("braindecode.models"):
            return (f"encoder.{path}" if path else "encoder"), type(sub).__name__
    return "encoder", type(module.encoder).__name__


def target_modules(module: nn.Module, method: str) -> tuple[list[str], list[str]]:
    """Return (target module names, feed-forward names for IA3) inside ``module``'s encoder.

    Raises
    ------
    ValueError
        If the encoder has no layer peft can adapt.
    """
    path, arch = _network_path(module)
    names = dict(module.named_modules())
    linear = [n for n, m in names.items() if n.startswith("encoder.") and isinstance(m, nn.Linear)]
    if arch in FAMILY_TARGETS:
        pattern, ff = FAMILY_TARGETS[arch]
        rx = re.compile(re.escape(path) + r"\." + pattern)
        targets = [n for n in linear if rx.fullmatch(n)]
        feedforward = [n for n in targets if re.fullmatch(ff, n)]
    else:
        targets, feedforward = linear, []
    # nn.MultiheadAttention reads out_proj.weight directly (never calls out_proj.forward), so an
    # adapter there would be silently ignored: such layers are not targeted.
    inside_mha = [n for n in targets if isinstance(names.get(n.rsplit(".", 1)[0]),
                                                   nn.MultiheadAttention)]
    if inside_mha:
        logger.debug("not adapting %d nn.MultiheadAttention out_proj layers", len(inside_mha))
    targets = [n for n in targets if n not in inside_mha]
    feedforward = [n for n in feedforward if n in targets]
    if not targets and method in ("lora", "dora", "oft"):
        targets = [n for n, m in names.items() if n.startswith("encoder.")
                   and isinstance(m, (nn.Conv1d, nn.Conv2d))]
    if not targets:
        raise ValueError(f"No layer of {arch} can take {method} adapters (no nn.Linear"
                         f"{'' if method == 'ia3' else ' or convolution'} in its encoder).")
    return targets, feedforward


def _oft_block_size(module: nn.Module, targets: list[str]) -> int:
    """Largest of 32, 16, 8, 4, 2, 1 that divides every target layer's input width."""
    widths = [getattr(dict(module.named_modules())[t], "in_features", None) or getattr(
        dict(module.named_modules())[t], "in_channels", 1) for t in targets]
    return next(b for b in (32, 16, 8, 4, 2, 1) if all(w % b == 0 for w in widths))


def make_config(method: str, module: nn.Module, n_steps: int,
                overrides: dict[str, Any] | None = None):
    """Return the peft config of ``method`` for ``module`` (``n_steps``: AdaLoRA schedule)."""
    import peft  # peft: heavy, imported when adapters are made

    targets, feedforward = target_modules(module, method)
    settings = {**DEFAULTS[method], **dict(overrides or {})}
    common = {"target_modules": targets}
    if method in ("lora", "dora"):
        return peft.LoraConfig(**common, **settings)
    if method == "ia3":
        return peft.IA3Config(**common, feedforward_modules=feedforward, **settings)
    if method == "adalora":
        n_steps = max(int(n_steps), 4)
        # warm-up 10 %, rank reallocation until the last 20 % of the steps (AdaLoRA paper's
        # proportions), a reallocation every step.
        settings.setdefault("tinit", max(1, n_steps // 10))
        settings.setdefault("tfinal", max(1, n_steps // 5))
        settings.setdefault("deltaT", 1)
        return peft.AdaLoraConfig(**common, total_step=n_steps, **settings)
    if method == "oft":
        if not settings.get("oft_block_size") and not settings.get("r"):
            settings["oft_block_size"] = _oft_block_size(module, targets)
        return peft.OFTConfig(**common, **settings)
    raise ValueError(f"Invalid value for the 'method' parameter. Allowed values are "
                     f"{list(METHODS)}, but got {method!r}.")


class TokenLinear(nn.Module):
    """Apply ``inner`` (an ``nn.Linear``) to inputs of any rank via a 2-D view.

    peft 0.21's OFT treats every 4-D input as a convolution's (it unfolds it), which breaks
    on transformer layers fed (batch, channels, patches, features), as in CBraMod; OFT
    target layers are wrapped in this view so they always see (tokens, features).
    """

    def __init__(self, inner: nn.Linear) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.inner(x.reshape(-1, x.shape[-1])).reshape(*x.shape[:-1], -1)


def _wrap_for_oft(module: nn.Module, targets: list[str]) -> list[str]:
    out = []
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = module.get_submodule(parent_name) if parent_name else module
        layer = getattr(parent, child)
        if isinstance(layer, nn.Linear):
            setattr(parent, child, TokenLinear(layer))
            name = f"{name}.inner"
        out.append(name)
    return out


def attach_adapters(module: nn.Module, method: str, n_steps: int = 1,
                    overrides: dict[str, Any] | None = None):
    """Inject ``method``'s adapters into ``module`` in place; freeze all but adapters and head.

    Returns
    -------
    peft.tuners.tuners_utils.BaseTuner
        The tuner (AdaLoRA's ``update_and_allocate`` lives on it); ``module`` is modified.
    """
    from peft.mapping import PEFT_TYPE_TO_TUNER_MAPPING  # peft: heavy

    config = make_config(method, module, n_steps, overrides)
    if method == "oft":
        config.target_modules = set(_wrap_for_oft(module, sorted(config.target_modules)))
    tuner = PEFT_TYPE_TO_TUNER_MAPPING[config.peft_type](module, config, "default")
    for name, p in module.named_parameters():
        p.requires_grad_(name.startswith("head.") or any(m in name for m in _ADAPTER_MARKERS))
    return tuner


def frozen_base_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """Return the encoder's frozen weights under their pre-adaptation names.

    An adapted layer keeps its original weights as ``<layer>.base_layer.<param>``; this maps
    them back to ``<layer>.<param>`` so they compare with the checkpoint's.
    """
    out = {}
    for name, value in module.state_dict().items():
        if not name.startswith("encoder.") or any(m in name for m in _ADAPTER_MARKERS):
            continue
        out[name.replace(".inner.base_layer.", ".").replace(".base_layer.", ".")] = (
            value.detach().clone())
    return out


def count_trainable(module: nn.Module) -> tuple[int, int]:
    """Return (trainable, total) parameter counts (adapters and head; everything)."""
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return int(trainable), int(sum(p.numel() for p in module.parameters()))


class _AdaLoraSchedule:
    """Call AdaLoRA's ``update_and_allocate`` after every optimiser step of the fit."""

    def __init__(self, tuner) -> None:
        self.tuner, self.step, self.handle = tuner, 0, None

    def __enter__(self):
        def hook(optimizer, args, kwargs):
            self.step += 1
            self.tuner.update_and_allocate(self.step)

        self.handle = register_optimizer_step_post_hook(hook)
        return self

    def __exit__(self, *exc) -> None:
        self.handle.remove()


def fit_peft(model, X_train: np.ndarray, y_train: np.ndarray, X_valid: np.ndarray,
             y_valid: np.ndarray, signal, seed: int) -> dict[str, Any]:
    """Fit a :class:`~eegbench.models.torch_model.TorchBenchmarkModel` with a PEFT adaptation.

    ``model.module`` is built (with its checkpoint, seeded) by the model's ``fit``; it is
    optionally probed (two-stage), adapted with peft in place and trained with the model's
    trainer.

    Returns
    -------
    dict
        The fit report: epochs, ``n_trainable`` (adapters + head), ``n_total``,
        ``trainable_fraction``, the method and its target modules.
    """
    method, two_stage = method_of(model.adaptation)
    probe_report = None
    if two_stage:  # stage 1: linear probe on the frozen encoder's features
        model.module.freeze_encoder()
        model.module.to(resolve_device(model.trainer.device))
        feats_train, feats_valid = model.encode(X_train), model.encode(X_valid)
        probe_report = fit_classifier(model.module.head, feats_train, y_train, feats_valid,
                                      y_valid, signal.n_outputs, model.trainer, seed)
        model.module.encoder_frozen = False
    n_steps = model.trainer.max_epochs * max(1, math.ceil(len(X_train) / model.trainer.batch_size))
    tuner = attach_adapters(model.module, method, n_steps, getattr(model, "peft", None))
    n_trainable, n_total = count_trainable(model.module)
    logger.info("%s: %d of %d parameters trainable (%.3f %%)", model.adaptation, n_trainable,
                n_total, 100 * n_trainable / n_total)
    if method == "adalora":
        with _AdaLoraSchedule(tuner):
            report = fit_classifier(model.module, X_train, y_train, X_valid, y_valid,
                                    signal.n_outputs, model.trainer, seed)
    else:
        report = fit_classifier(model.module, X_train, y_train, X_valid, y_valid,
                                signal.n_outputs, model.trainer, seed)
    model.report = report
    targets = tuner.peft_config["default"].target_modules
    out = {"best_epoch": report.best_epoch, "epochs_run": report.epochs_run,
           "best_valid_loss": report.best_valid_loss, "n_trainable": n_trainable,
           "n_total": n_total, "trainable_fraction": n_trainable / n_total,
           "peft_method": method, "peft_targets": sorted(targets)}
    if probe_report is not None:
        out["probe_epochs_run"] = probe_report.epochs_run
    return out


def restore_adapters(model) -> None:
    """Re-inject the adapters of ``model.adaptation`` into a freshly built ``model.module``.

    Used when loading a saved adapted model: the saved state dict holds the adapters'
    weights under peft's names.
    """
    method, _ = method_of(model.adaptation)
    attach_adapters(model.module, method, 4, getattr(model, "peft", None))


def peft_adaptation(name: str) -> Adaptation:
    """Return the :class:`~eegbench.adaptation.registry.Adaptation` of a PEFT value.

    The registry's family factory for :data:`~eegbench.adaptation.builtins.PEFT_ADAPTATIONS`.
    """
    method, two_stage = method_of(name)
    return Adaptation(name, fit_peft, restore=restore_adapters, description=(
        f"{'linear probe, then ' if two_stage else ''}{method} adapters (peft) on the "
        "frozen pretrained encoder, head trained"))
