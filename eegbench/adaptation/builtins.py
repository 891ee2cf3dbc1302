"""The built-in adaptations as data: ``model.adaptation`` value -> ``"module:attribute"``.

Read by :data:`eegbench.adaptation.registry.ADAPTATIONS`; each attribute is an
:class:`~eegbench.adaptation.registry.Adaptation`, imported on first lookup (the
implementations import torch; the names do not).
"""

from __future__ import annotations

from eegbench.registry import Family

BUILTIN_ADAPTATIONS: dict[str, str] = {
    "from_scratch": "eegbench.adaptation.finetune:FROM_SCRATCH",
    "finetune": "eegbench.adaptation.finetune:FINETUNE",
    "linear_probe": "eegbench.adaptation.probe:LINEAR_PROBE",
    "lp_ft": "eegbench.adaptation.lp_ft:LP_FT",
}

#: Parameter-efficient fine-tuning methods of :mod:`peft` (:mod:`.peft_methods`).
PEFT_METHODS: tuple[str, ...] = ("lora", "dora", "ia3", "adalora", "oft")
#: Prefix of the two-stage variants (a linear probe first, as LP-FT).
TWO_STAGE_PREFIX = "probe_then_"
#: Every PEFT ``model.adaptation`` value.
PEFT_ADAPTATIONS: tuple[str, ...] = PEFT_METHODS + tuple(
    f"{TWO_STAGE_PREFIX}{m}" for m in PEFT_METHODS)

ADAPTATION_FAMILIES: tuple[Family, ...] = (
    Family(lambda: PEFT_ADAPTATIONS, "eegbench.adaptation.peft_methods:peft_adaptation"),
)

#: The modules that implement the built-in adaptations (part of a run's code fingerprint).
BUILTIN_MODULES: tuple[str, ...] = tuple(dict.fromkeys(
    [t.partition(":")[0] for t in BUILTIN_ADAPTATIONS.values()]
    + [f.factory.partition(":")[0] for f in ADAPTATION_FAMILIES]))
