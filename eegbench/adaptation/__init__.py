"""How a model learns from a fold's data: probing, fine-tuning, LP-FT, parameter-efficient methods.

Protocols (:mod:`eegbench.protocols`) decide *which* windows a fold trains, validates and
tests on; this package decides *how* the model learns from them.

=================  ========================================================================
``from_scratch``   random initialisation, every weight trained (:mod:`.finetune`)
``finetune``       pretrained encoder, every weight trained with the model's recipe
``linear_probe``   frozen encoder; scikit-learn L2 logistic regression on standardised
                   features, fitted to convergence (:mod:`.probe`)
``lp_ft``          linear probe first, then fine-tuning from the probed head (Kumar et al.
                   2022, :mod:`.lp_ft`)
=================  ========================================================================

Further methods register with :func:`register_adaptation` (:mod:`.registry`); the built-ins
are listed as data in :mod:`.builtins`. Helpers:
:mod:`.collapse` (predicted-class histograms), :mod:`.layer_probe` (a converged probe on
every layer), :mod:`.calibration` (few-shot calibration on the test subject). The optimiser
parts of the training loop (parameter groups, layer-wise lr decay, schedules, BatchNorm
re-estimation) live in :mod:`eegbench.training`.
"""

from eegbench.adaptation.registry import (
    ADAPTATIONS,
    Adaptation,
    adaptation_names,
    check_adaptation,
    get_adaptation,
    register_adaptation,
)

__all__ = ["ADAPTATIONS", "Adaptation", "adaptation_names", "check_adaptation", "get_adaptation",
           "register_adaptation"]
