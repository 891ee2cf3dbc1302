"""A sensor-aware tokenizer for EEG and MEG (BrainOmni-style), with a vector-quantized codebook.

Each channel's time patch is embedded by a small 1-D convolution; a *sensor embedding* computed
from the sensor's position (x, y, z in metres), orientation (unit vector; zeros for EEG) and
type (EEG / magnetometer / gradiometer) is added, so the same weights read any montage of either
modality. A codebook quantizes each patch token (straight-through estimator, commitment loss)
and a linear decoder reconstructs the patch, which is the pretraining objective
(``+exp=pretrain pretrain.model=brain_tokenizer``). As a benchmark encoder (``model=
brain_tokenizer``) the quantized tokens are mean-pooled into one feature vector.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import nn

from eegbench.models.base import SignalSpec
from eegbench.models.input_contract import InputAdapter, InputContract
from eegbench.models.torch_model import TorchBenchmarkModel
from eegbench.models.weights.loading import load_weights, read_metadata, resolve_checkpoint

logger = logging.getLogger(__name__)

#: Sensor types the tokenizer knows (index into its type embedding).
SENSOR_TYPES = ("eeg", "mag", "grad")

#: Unit of each sensor type inside the tokenizer, in the cache's standard units (EEG 100 uV,
#: magnetometers 1 pT = 1000 fT, planar gradiometers 100 fT/cm): brings the three types to
#: comparable magnitudes (per-type normalisation, as BrainOmni normalises each sensor type).
TYPE_UNITS = {"eeg": 100.0, "mag": 1000.0, "grad": 100.0}


def sensor_table(signal: SignalSpec, ch_names: list[str]) -> torch.Tensor:
    """Return (n_chans, 3 + 3 + n_types) sensor descriptors: position, orientation, type.

    A channel without a position (NaN in the recording's montage) gets the origin, with a
    warning, rather than NaN tokens.
    """
    rows, unplaced = [], []
    for name in ch_names:
        pos = np.asarray(signal.ch_pos.get(name, [0.0, 0.0, 0.0]), dtype=np.float32)[:3]
        if not np.all(np.isfinite(pos)):  # no montage position (MNE stores NaN)
            unplaced.append(name)
            pos = np.zeros(3, dtype=np.float32)
        ori = np.asarray(signal.ch_ori.get(name, [0.0, 0.0, 0.0]), dtype=np.float32)[:3]
        kind = signal.ch_types[signal.ch_names.index(name)] if signal.ch_types else "eeg"
        if kind not in SENSOR_TYPES:
            raise ValueError(f"Channel {name!r} has sensor type {kind!r}; the brain tokenizer "
                             f"knows {list(SENSOR_TYPES)}.")
        onehot = np.eye(len(SENSOR_TYPES), dtype=np.float32)[SENSOR_TYPES.index(kind)]
        rows.append(np.concatenate([pos * 10.0, ori, onehot]))  # positions in decimetres
    if unplaced:
        logger.warning("brain tokenizer: %d channel(s) have no position (e.g. %s); their "
                       "sensor embedding uses the origin", len(unplaced), unplaced[:3])
    return torch.from_numpy(np.stack(rows))


class VectorQuantizer(nn.Module):
    """Nearest-codeword quantization with a straight-through gradient (van den Oord 2017)."""

    def __init__(self, n_codes: int, dim: int, beta: float = 0.25) -> None:
        super().__init__()
        self.codebook = nn.Embedding(n_codes, dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / n_codes, 1.0 / n_codes)
        self.beta = beta

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (quantized z, code indices, VQ loss)."""
        flat = z.reshape(-1, z.shape[-1])
        dist = torch.cdist(flat, self.codebook.weight)
        codes = dist.argmin(dim=1)
        q = self.codebook(codes).view_as(z)
        loss = nn.functional.mse_loss(q, z.detach()) + self.beta * nn.functional.mse_loss(
            z, q.detach())
        return z + (q - z).detach(), codes.view(z.shape[:-1]), loss


class BrainTokenizer(nn.Module):
    """Patch + sensor embedding -> codebook -> patch decoder.

    Parameters
    ----------
    patch_size : int
        Samples per patch.
    dim : int
        Token dimension.
    n_codes : int
        Codebook size.
    """

    def __init__(self, patch_size: int = 64, dim: int = 64, n_codes: int = 256) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.patch_embed = nn.Sequential(
            nn.Conv1d(1, dim // 2, kernel_size=7, stride=2, padding=3), nn.GELU(),
            nn.Conv1d(dim // 2, dim, kernel_size=5, stride=2, padding=2), nn.GELU(),
            nn.AdaptiveAvgPool1d(1))
        self.sensor_embed = nn.Sequential(nn.Linear(6 + len(SENSOR_TYPES), dim), nn.GELU(),
                                          nn.Linear(dim, dim))
        self.mixer = nn.TransformerEncoderLayer(dim, nhead=4, dim_feedforward=2 * dim,
                                                batch_first=True, norm_first=True, dropout=0.0)
        self.quantizer = VectorQuantizer(n_codes, dim)
        self.decoder = nn.Linear(dim, patch_size)

    @staticmethod
    def normalise(x: torch.Tensor, sensors: torch.Tensor) -> torch.Tensor:
        """Divide each channel of ``x`` (batch, chans, time) by its sensor type's unit."""
        units = torch.tensor([TYPE_UNITS[k] for k in SENSOR_TYPES], dtype=x.dtype,
                             device=x.device)
        kinds = sensors[:, -len(SENSOR_TYPES):].argmax(1).to(x.device)
        return x / units[kinds][None, :, None]

    def tokens(self, x: torch.Tensor, sensors: torch.Tensor) -> torch.Tensor:
        """Return continuous tokens (batch, chans, patches, dim) of ``x`` (batch, chans, time).

        ``x`` is in the cache's standard units; each channel is divided by its sensor type's
        unit (:data:`TYPE_UNITS`, the type read from the one-hot tail of ``sensors``).
        """
        x = self.normalise(x, sensors)
        b, c, t = x.shape
        p = t // self.patch_size
        patches = x[..., : p * self.patch_size].reshape(b * c * p, 1, self.patch_size)
        tok = self.patch_embed(patches).view(b, c, p, -1)
        tok = tok + self.sensor_embed(sensors.to(x.dtype))[None, :, None, :]
        # channels of one time patch attend to each other (spatial mixing across sensors)
        mixed = self.mixer(tok.permute(0, 2, 1, 3).reshape(b * p, c, -1))
        return mixed.view(b, p, c, -1).permute(0, 2, 1, 3)

    def forward(self, x: torch.Tensor, sensors: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (quantized tokens, code indices, VQ loss)."""
        return self.quantizer(self.tokens(x, sensors))

    def reconstruction_loss(self, x: torch.Tensor, sensors: torch.Tensor) -> torch.Tensor:
        """Return patch-reconstruction MSE + VQ loss (the tokenizer's training objective)."""
        q, _, vq_loss = self(x, sensors)
        b, c, t = x.shape
        p = q.shape[2]
        target = self.normalise(x, sensors)[..., : p * self.patch_size].reshape(
            b, c, p, self.patch_size)
        return nn.functional.mse_loss(self.decoder(q), target) + vq_loss


class TokenizerEncoder(nn.Module):
    """Benchmark encoder: mean of the quantized tokens over sensors and patches."""

    def __init__(self, tokenizer: BrainTokenizer, sensors: torch.Tensor) -> None:
        super().__init__()
        self.net = tokenizer
        self.register_buffer("sensors", sensors, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        q, _, _ = self.net(x, self.sensors)
        return q.mean(dim=(1, 2))

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        """Return embedding, mixer and quantizer."""
        return [("net.patch_embed", self.net.patch_embed), ("net.mixer", self.net.mixer),
                ("net.quantizer", self.net.quantizer)]


class BrainTokenizerModel(TorchBenchmarkModel):
    """The sensor-aware VQ tokenizer as a benchmark encoder (EEG and MEG).

    Input contract: 128 Hz, patches of ``patch_size`` samples, the cache's standard units (the
    tokenizer rescales each sensor type, see :data:`TYPE_UNITS`).
    """

    family = "foundation"

    def __init__(self, arch_params: dict[str, Any] | None = None, trainer: Any = None,
                 adaptation: str = "from_scratch", checkpoint: str | None = None,
                 checkpoint_sha256: str | None = None, **_: Any) -> None:
        super().__init__(trainer=trainer, adaptation=adaptation, checkpoint=checkpoint,
                         checkpoint_sha256=checkpoint_sha256)
        self.arch_params = dict(arch_params or {})
        if checkpoint:
            meta = read_metadata(resolve_checkpoint(str(checkpoint)))
            self.arch_params.update(meta.get("arch_params") or {})
        self.contract = InputContract(sfreq=128.0, patch_size=int(self.arch_params.get(
            "patch_size", 64)), units="standard (per-type rescaling inside)", scale=1.0)

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:  # noqa: D102
        return TokenizerEncoder(BrainTokenizer(**self.arch_params),
                                sensor_table(signal, list(adapter.out_ch_names)))

    def load_encoder_weights(self, encoder: nn.Module, source: str) -> None:
        """Load a tokenizer checkpoint (``+exp=pretrain pretrain.model=brain_tokenizer``)."""
        load_weights(encoder.net, source, sha256=self.checkpoint_sha256, skip_prefixes=())
