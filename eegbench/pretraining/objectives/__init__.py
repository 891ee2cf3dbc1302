"""Pretraining objectives, by name (``pretrain.objective=...``).

=====================  =====================================================================
``masked_patch``       reconstruct masked raw patches (CBraMod)
``next_patch``         predict the next patch from the past, future patches masked (MEG-GPT's
                       next-step prediction, on a bidirectional encoder)
``masked_token``       predict the discrete code of masked patches from a spectral codebook
                       (LaBraM / BrainOmni masked token prediction)
``signal_stats``       predict band powers and the channel correlation matrix
                       (neurodynamics-statistics targets)
``contrastive``        NT-Xent between two augmented views (time, frequency and channel
                       augmentations, as multi-view contrastive models do)
=====================  =====================================================================
"""

from __future__ import annotations

from eegbench.pretraining.objectives.base import PretrainObjective
from eegbench.pretraining.objectives.contrastive import ContrastiveViews
from eegbench.pretraining.objectives.masked_patch import MaskedPatchReconstruction
from eegbench.pretraining.objectives.masked_token import MaskedTokenPrediction
from eegbench.pretraining.objectives.next_patch import NextPatchPrediction
from eegbench.pretraining.objectives.registry import OBJECTIVES, make_objective
from eegbench.pretraining.objectives.signal_stats import SignalStatistics

__all__ = ["OBJECTIVES", "ContrastiveViews", "MaskedPatchReconstruction",
           "MaskedTokenPrediction", "NextPatchPrediction", "PretrainObjective",
           "SignalStatistics", "make_objective"]
