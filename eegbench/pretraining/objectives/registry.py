"""The objective registry: ``pretrain.objective`` -> objective class, listed as data.

Built-in objectives are ``"module:attribute"`` strings imported on first lookup; other packages
add objectives (a :class:`~eegbench.pretraining.objectives.base.PretrainObjective` subclass)
under the ``eegbench.objectives`` entry-point group.
"""

from __future__ import annotations

from typing import Any

from eegbench.registry import Registry, RegistryError

BUILTIN_OBJECTIVES: dict[str, str] = {
    "contrastive": "eegbench.pretraining.objectives.contrastive:ContrastiveViews",
    "masked_patch": "eegbench.pretraining.objectives.masked_patch:MaskedPatchReconstruction",
    "masked_token": "eegbench.pretraining.objectives.masked_token:MaskedTokenPrediction",
    "next_patch": "eegbench.pretraining.objectives.next_patch:NextPatchPrediction",
    "signal_stats": "eegbench.pretraining.objectives.signal_stats:SignalStatistics",
}

#: Every pretraining objective class by name: built-ins and entry points.
OBJECTIVES: Registry[type] = Registry("objective", group="eegbench.objectives",
                                      builtins=BUILTIN_OBJECTIVES,
                                      parameter="pretrain.objective")


def make_objective(name: str, net: Any, patch_size: int, d_model: int, sfreq: float,
                   **params: Any) -> Any:
    """Instantiate the objective ``name`` on the encoder ``net``.

    Raises
    ------
    ValueError
        If ``name`` is not a registered objective (MNE-style message with close matches).
    """
    try:
        cls = OBJECTIVES.get(name)
    except RegistryError as err:  # a ValueError, as for every invalid configuration value
        raise ValueError(str(err)) from None
    return cls(net, patch_size, d_model, sfreq, **params)
