"""Input adapters: resampling, channel mapping and patch alignment on the fake dataset's
windows (the eegmat channels, 128 Hz, 640 samples)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from eegbench.models.foundation import TCP16
from eegbench.models.input_contract import InputAdapter, InputContract, fft_resample


@pytest.fixture(scope="module")
def windows(fake_windows):
    x = np.asarray(fake_windows.X[:4], dtype=np.float32)
    return torch.from_numpy(x).double(), fake_windows.info


@pytest.mark.parametrize("n_out", [1000, 1280, 320, 639])
def test_fft_resample_matches_scipy(windows, n_out):
    x, _ = windows
    expected = scipy.signal.resample(x.numpy(), n_out, axis=-1)
    np.testing.assert_allclose(fft_resample(x, n_out).numpy(), expected, atol=1e-8 * 1e3)


def test_channel_reorder_zero_pad_and_bipolar(windows):
    x, info = windows
    names = info["ch_names"]
    adapter = InputAdapter(InputContract(ch_names=("Cz", "XX", "fp1")), names, 128.0, 640)
    out = adapter(x)
    assert out.shape == (4, 3, 640)
    torch.testing.assert_close(out[:, 0], x[:, names.index("Cz")])
    assert torch.count_nonzero(out[:, 1]) == 0
    torch.testing.assert_close(out[:, 2], x[:, names.index("Fp1")])
    tcp = InputAdapter(InputContract(sfreq=200.0, bipolar=TCP16), names, 128.0, 640)
    out = tcp(x)
    assert out.shape == (4, 16, 1000) and tcp.out_ch_names[0] == "Fp1-F7"
    ref = fft_resample(x[:, [names.index("Fp1")]] - x[:, [names.index("F7")]], 1000)
    torch.testing.assert_close(out[:, :1], ref)
    with pytest.raises(ValueError, match="needs channels.*'CZ'.*lacks"):
        InputAdapter(InputContract(bipolar=(("Cz", "Oz"),)), ["Oz"], 128.0, 640)
    with pytest.raises(ValueError, match="vocabulary"):
        InputAdapter(InputContract(vocabulary=("C3",)), ["EMG"], 128.0, 640)


def test_patch_alignment_and_scaling(windows):
    x, info = windows
    adapter = InputAdapter(InputContract(sfreq=256.0, patch_size=64, scale=1e-3),
                           info["ch_names"], 128.0, 600)
    assert adapter.out_times == 1152  # 1200 samples at 256 Hz -> 18 whole patches of 64
    out = adapter(x[..., :600])
    assert out.shape[-1] == 1152
    assert float(out.abs().max()) < float(x.abs().max()) * 1e-3 * 1.5
