"""LP-FT: linear probe, then fine-tuning from the probed head.

Kumar et al. 2022, "Fine-tuning can distort pretrained features and underperform
out-of-distribution" (ICLR): fit a linear probe on the frozen encoder first, then fine-tune
every weight starting from the probed head, so that the first gradient steps do not come from
a random head.
"""

from __future__ import annotations

from typing import Any

from eegbench.adaptation.finetune import train_all_weights
from eegbench.adaptation.probe import probe_model
from eegbench.adaptation.registry import Adaptation


def fit_lp_ft(model: Any, X_train, y_train, X_valid, y_valid, signal, seed: int
              ) -> dict[str, Any]:
    """Probe on the training subjects' windows, then fine-tune with the recipe.

    The probe sees the training subjects only: the validation subjects stay unseen for the
    fine-tuning stage's epoch selection.
    """
    probe = probe_model(model, X_train, y_train, signal.n_outputs)
    model.module.unfreeze_encoder()
    report = train_all_weights(model, X_train, y_train, X_valid, y_valid, signal, seed)
    report["probe"] = probe
    report["budget"] = {**report["budget"], "kind": "lp_ft",
                        "probe_C": probe["C"], "probe_converged": probe["converged"],
                        "probe_n_iter": probe["n_iter"]}
    return report


LP_FT = Adaptation("lp_ft", fit_lp_ft, linear_head=True,
                   description="linear probe, then fine-tuning from the probed head")
