"""Six more EEG foundation models from braindecode, each with its published input contract.

Same pattern as :mod:`eegbench.models.foundation` (input contract -> braindecode network ->
tokens -> readout -> the benchmark's head; every ``adaptation``; checkpoints through
:mod:`eegbench.models.weights.loading`). Their tokens are braindecode's ``return_features``
output (:func:`~eegbench.models.foundation.braindecode_features`): unlike CBraMod, LaBraM,
BIOT and EEGPT, these taps have not been checked against a hook on the last encoder block.
The contracts, with their sources (braindecode 1.8.1's docstrings, which cite the papers,
unless stated):

==========  ======  =============  ==========================================================
model       sfreq   patch          channels / units
==========  ======  =============  ==========================================================
REVE        200 Hz  200 (1 s),     any channels, positions from the dataset (4-D Fourier
                    overlap 20     position encoding); the model z-scores and clips at 15 SD
                                   internally, so the input stays in uV.
LUNA        128 Hz  40 samples     any channels (learned-query channel unification); uV.
                                   sfreq from braindecode's summary.csv (the docstring does
                                   not state one).
SignalJEPA  128 Hz  conv stride    any channels with positions (spatial attention over
                    1 s            ``chs_info``); "pre-trained at 128 Hz on EEG band-passed
                                   0.5-40 Hz and rescaled from volts to microvolts": uV.
BENDR       256 Hz  conv /96       the 19 10-20 channels in BENDR's order plus a relative-
                                   amplitude channel ``SCALE`` (zero-filled here: braindecode
                                   notes it cannot reproduce the pretraining statistic);
                                   T5/T6 are the dataset's P7/P8; each window scaled to
                                   [-1, 1] as in the dn3 pipeline BENDR was trained with.
                                   256 Hz follows from the docstring's "downsamples by 96 ...
                                   approximately 2.67 Hz".
CodeBrain   200 Hz  200 (1 s)      19 10-20 channels (released weights: TUEG, 19 channels,
                                   200 Hz); units 100 uV as in CBraMod, whose preprocessing
                                   it reuses (not stated in braindecode's docstring).
EEGDINO     200 Hz  200 (1 s)      any channels; "pre-trained on EEG in microvolts scaled by
                                   1/100": 100 uV.
==========  ======  =============  ==========================================================

None of these downloads anything when built: REVE's channel-position bank (which braindecode
fetches from the Hugging Face Hub) is replaced by the dataset's own positions.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from eegbench._compat import import_braindecode_models
from eegbench.models.base import SignalSpec
from eegbench.models.braindecode_catalogue import offline_position_bank
from eegbench.models.braindecode_zoo import ZooEncoder, chs_info_from
from eegbench.models.foundation import (
    FoundationEncoder,
    FoundationModel,
    braindecode_features,
)
from eegbench.models.input_contract import InputAdapter, InputContract


class _ZooFoundation(FoundationModel):
    """A foundation model whose checkpoints use braindecode's own key names."""

    key_layout = "braindecode"
    #: Pass ``chs_info`` (names + dataset positions) to the braindecode class.
    needs_chs_info = False
    #: Attribute paths of the blocks offered to layer-wise probing (last: the block list).
    layers: tuple[str, ...] = ()
    #: braindecode's ``return_features`` output, read as (batch, tokens, dim).
    tap = staticmethod(braindecode_features)
    token_layout = ("batch", "tokens", "dim")

    @property
    def layer_names(self) -> list[str]:  # noqa: D102
        return list(self.layers)

    def network(self, signal: SignalSpec, adapter: InputAdapter, **kwargs: Any) -> nn.Module:
        """Instantiate the network; ``chs_info`` from the dataset when the model needs it."""
        if self.needs_chs_info:
            kwargs["chs_info"] = chs_info_from(signal, list(adapter.out_ch_names))
        return super().network(signal, adapter, **kwargs)


class REVEModel(_ZooFoundation):
    """REVE (El Ouahidi et al. 2025): 4-D positional encoding, any montage, 200 Hz."""

    arch = "REVE"
    needs_chs_info = True
    layers = ("to_patch_embedding", "transformer.layers")

    def make_contract(self) -> InputContract:  # noqa: D102
        return InputContract(sfreq=200.0, patch_size=int(self.arch_params.get("patch_size", 200)),
                             units="uV (z-scored inside the model)")

    def network(self, signal: SignalSpec, adapter: InputAdapter, **kwargs: Any) -> nn.Module:
        """Build REVE with a position bank holding the dataset's channel positions."""
        import_braindecode_models()
        names = list(adapter.out_ch_names)
        missing = [n for n in names if n not in signal.ch_pos]
        if missing:
            raise ValueError(f"REVE needs a position for every channel; the dataset has none "
                             f"for {missing}. Declare a montage in the recipe's 'channels'.")
        with offline_position_bank({n: list(map(float, signal.ch_pos[n])) for n in names}):
            return super().network(signal, adapter, **kwargs)


class LUNAModel(_ZooFoundation):
    """LUNA (Doner et al. 2025): topology-agnostic channel unification with learned queries."""

    arch = "LUNA"
    layers = ("patch_embed", "blocks")

    def make_contract(self) -> InputContract:  # noqa: D102
        return InputContract(sfreq=128.0, patch_size=int(self.arch_params.get("patch_size", 40)))

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:  # noqa: D102
        # LUNA's forward has no return_features: its classification head is removed instead.
        return ZooEncoder(self.network(signal, adapter), "mean")


class SignalJEPAModel(_ZooFoundation):
    """Signal-JEPA (Guetschel et al. 2024): conv feature encoder + spatial transformer, 128 Hz."""

    arch = "SignalJEPA"
    needs_chs_info = True
    layers = ("feature_encoder", "transformer.encoder.layers")

    def make_contract(self) -> InputContract:  # noqa: D102
        return InputContract(sfreq=128.0, units="uV")


class _MinMaxScale(nn.Module):
    """Scale each window to [-1, 1] over all its channels (dn3's BENDR preprocessing)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        lo = x.amin(dim=(1, 2), keepdim=True)
        hi = x.amax(dim=(1, 2), keepdim=True)
        return 2 * (x - lo) / (hi - lo).clamp_min(1e-8) - 1


class _Prepend(nn.Module):
    def __init__(self, first: nn.Module, encoder: nn.Module) -> None:
        super().__init__()
        self.first = first
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.encoder(self.first(x))

    def named_layers(self) -> list[tuple[str, nn.Module]]:  # noqa: D102
        return [(f"encoder.{n}", m) for n, m in self.encoder.named_layers()]


class BENDRModel(_ZooFoundation):
    """BENDR (Kostas et al. 2021): wav2vec-style conv encoder + transformer, 256 Hz, 20 inputs."""

    arch = "BENDR"
    layers = ("encoder", "contextualizer.transformer_layers")

    def make_contract(self) -> InputContract:  # noqa: D102
        import_braindecode_models()
        from braindecode.models.bendr import BENDR_CHANNEL_ORDER  # braindecode: optional, heavy

        alias = {"T5": "P7", "T6": "P8"}
        names = tuple(alias.get(n.upper(), n) for n in BENDR_CHANNEL_ORDER)
        return InputContract(sfreq=256.0, ch_names=names, units="[-1, 1] per window")

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:  # noqa: D102
        net = self.network(signal, adapter)
        return _Prepend(_MinMaxScale(), FoundationEncoder(
            net, type(self).tap, self.token_layout, self.effective_head().readout,
            self.layer_names))


class CodeBrainModel(_ZooFoundation):
    """CodeBrain (Ma et al. 2025): dual tokenizer + multi-scale EEGSSM, 200 Hz, 1 s patches."""

    arch = "CodeBrain"
    layers = ("patch_embedding", "residual_layer.residual_blocks")

    def make_contract(self) -> InputContract:  # noqa: D102
        return InputContract(sfreq=200.0, patch_size=int(self.arch_params.get("patch_size", 200)),
                             units="100uV", scale=0.01)


class EEGDINOModel(_ZooFoundation):
    """EEG-DINO (Wang et al. 2025): self-distilled transformer on 1 s patches at 200 Hz."""

    arch = "EEGDINO"
    layers = ("patch_embedding", "encoder_layers")

    def make_contract(self) -> InputContract:  # noqa: D102
        return InputContract(sfreq=200.0, patch_size=int(self.arch_params.get("patch_size", 200)),
                             units="100uV", scale=0.01)


#: name -> small architecture for fast CPU tests (the published sizes are the defaults).
SMALL_ARCH: dict[str, dict[str, Any]] = {
    "reve": {"embed_dim": 64, "depth": 2, "heads": 4, "head_dim": 16},
    "luna": {"embed_dim": 32, "depth": 2, "num_queries": 2},
    "signal_jepa": {"transformer__num_encoder_layers": 2, "transformer__num_decoder_layers": 1,
                    "transformer__nhead": 4},
    "bendr": {"encoder_h": 64, "contextualizer_hidden": 128, "transformer_layers": 2,
              "transformer_heads": 4},
    "codebrain": {"num_res_layers": 2, "res_channels": 32, "skip_channels": 32,
                  "out_channels": 32},
    "eegdino": {"n_layer": 2, "nhead": 4, "dim_feedforward": 64},
}
