"""A third-party eegbench model: one class (this file) and one Hydra yaml (conf/model/)."""

from torch import nn

from eegbench.models.torch_model import TorchBenchmarkModel


class TinyConvNet(TorchBenchmarkModel):
    """Temporal convolution -> ELU -> average pooling: a deliberately tiny encoder."""

    def __init__(self, n_filters: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.n_filters = n_filters

    def build_encoder(self, signal, adapter):
        """Return the encoder for the adapted input."""
        return nn.Sequential(nn.Conv1d(len(adapter.out_ch_names), self.n_filters, 25, stride=4),
                             nn.ELU(), nn.AdaptiveAvgPool1d(4), nn.Flatten())
