"""Which networks can be stacked: a list of layers known to run per fold under ``vmap``.

A stacked network runs each fold's weights on that fold's batch with
:func:`torch.func.vmap`; that is exact per fold for layers whose forward is a function of
their inputs, weights and (for BatchNorm) their own running statistics. A layer that keeps
other state, draws random numbers other than dropout's, or synchronises with the host would
silently mix folds or fail, so only the layers listed here are accepted; a network with any
other layer trains fold after fold (:func:`stacking_blockers` says which layers).

A model can say for itself: ``supports_fold_stacking = True`` on the model class skips this
check (the model vouches for its layers), ``False`` always trains fold after fold.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.nn.utils import parametrize

#: Layers whose forward is a pure function of (input, parameters, BatchNorm statistics), by
#: "module.QualifiedName". Containers are listed too (their forward calls their children).
STACKABLE_LAYERS = frozenset({
    # torch
    "torch.nn.modules.conv.Conv1d", "torch.nn.modules.conv.Conv2d",
    "torch.nn.modules.batchnorm.BatchNorm1d", "torch.nn.modules.batchnorm.BatchNorm2d",
    "torch.nn.modules.linear.Linear", "torch.nn.modules.linear.Identity",
    "torch.nn.modules.dropout.Dropout",
    "torch.nn.modules.activation.ELU", "torch.nn.modules.activation.ReLU",
    "torch.nn.modules.activation.GELU", "torch.nn.modules.activation.LeakyReLU",
    "torch.nn.modules.activation.Tanh", "torch.nn.modules.activation.Sigmoid",
    "torch.nn.modules.activation.SiLU", "torch.nn.modules.activation.Hardtanh",
    "torch.nn.modules.pooling.AvgPool1d", "torch.nn.modules.pooling.AvgPool2d",
    "torch.nn.modules.pooling.MaxPool1d", "torch.nn.modules.pooling.MaxPool2d",
    "torch.nn.modules.flatten.Flatten", "torch.nn.modules.normalization.LayerNorm",
    "torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList",
    "torch.nn.modules.container.ModuleDict", "torch.nn.utils.parametrize.ParametrizationList",
    # einops
    "einops.layers.torch.Rearrange",
    # braindecode 1.8 layers and the networks built only from them
    "braindecode.modules.layers.Ensure4d", "braindecode.modules.activation.SafeLog",
    "braindecode.modules.activation.Square", "braindecode.modules.convolution.CombinedConv",
    "braindecode.modules.convolution.Conv2dWithConstraint",
    "braindecode.modules.parametrization.MaxNormParametrize",
    "braindecode.models.eegnet.EEGNet", "braindecode.models.shallow_fbcsp.ShallowFBCSPNet",
    "braindecode.models.deep4.Deep4Net",
    # eegbench's wrappers
    "eegbench.models.torch_model.EncoderClassifier", "eegbench.models.deep.BraindecodeEncoder",
    "eegbench.models.input_contract.InputAdapter",
})


def layer_name(module: nn.Module) -> str:
    """Return ``module``'s class as "module.QualifiedName" (a parametrized layer: its base)."""
    cls = type(module)
    if parametrize.is_parametrized(module) and cls.__name__.startswith("Parametrized"):
        cls = cls.__bases__[0]  # torch.nn.utils.parametrize made a subclass on the fly
    return f"{cls.__module__}.{cls.__qualname__}"


def stacking_blockers(module: nn.Module, model: Any = None) -> list[str]:
    """Return why ``module`` cannot be trained stacked with other folds ([] if it can).

    Parameters
    ----------
    module : nn.Module
        The built network of one fold.
    model : object, optional
        The benchmark model that built it; its ``supports_fold_stacking`` attribute (None:
        check the layers, True: accepted, False: refused) takes precedence.
    """
    says = getattr(model, "supports_fold_stacking", None)
    if says is False:
        return [f"{type(model).__name__} declares supports_fold_stacking = False"]
    if says is True:
        return []
    unknown = sorted({layer_name(m) for m in module.modules()} - STACKABLE_LAYERS)
    return [f"layer {name} is not known to be stackable "
            f"(eegbench.training.fold_parallel.support.STACKABLE_LAYERS)" for name in unknown]
