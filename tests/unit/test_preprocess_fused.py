"""Building blocks of the fused pipeline: padding, resampling, windows, patches, devices."""

from __future__ import annotations

import logging
from pathlib import Path

import mne
import numpy as np
import pytest
import torch
import yaml
from mne.cuda import _smart_pad

from eegbench.data.preprocess.cases import CASES, case_sources, load_raw
from eegbench.data.preprocess.fused import (
    fft_resample,
    make_patches,
    make_windows,
    resolve_device,
    robust_normalize,
    smart_pad,
)
from eegbench.data.preprocess.mne_ref import robust_normalize_np
from eegbench.data.preprocess.params import reference_indices
from eegbench.data.standardize import PreprocessSpec, fixed_windows

CONF = Path(__file__).resolve().parents[2] / "conf" / "preprocess"


@pytest.fixture(scope="module")
def eeg_uv(data_root):
    """Two minutes of real EEG (eegmmidb run 3, 64 channels, 160 Hz) in microvolts."""
    case = CASES["physionet_eegmmidb"]
    return load_raw(*case_sources(case, data_root, 1)[0]).get_data() * 1e6


@pytest.mark.parametrize(("n", "left", "right"), [(50, 10, 7), (6, 9, 12), (2, 1, 3), (40, 0, 0)])
def test_smart_pad_is_mnes_reflect_limited(eeg_uv, n, left, right):
    x = eeg_uv[:3, 100 : 100 + n]  # short pieces: pads longer than the signal zero-fill
    out = smart_pad(torch.from_numpy(x), left, right).numpy()
    np.testing.assert_allclose(out, _smart_pad(x, np.array([left, right])), rtol=0, atol=1e-9)


@pytest.mark.parametrize("sfreq_out", [128.0, 100.0, 250.0, 64.0])
def test_fft_resample_is_raw_resample(eeg_uv, sfreq_out):
    x = eeg_uv[:8, :3001]
    expected = mne.filter.resample(x, sfreq_out, 160.0, npad="auto", verbose="error")
    out = fft_resample(torch.from_numpy(x), 160.0, sfreq_out).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-9 * np.abs(expected).max())


def test_windows_match_standardize_and_patches_tile_them(eeg_uv):
    x = eeg_uv[:, :1000]
    expected, _ = fixed_windows(x, 160.0, 1.0, 0.5)
    win = make_windows(torch.from_numpy(x), 160, 80)
    np.testing.assert_array_equal(win.numpy(), expected)
    patches = make_patches(win, 32)
    assert patches.shape == (len(expected), 64, 5, 32)
    np.testing.assert_array_equal(patches.reshape(win.shape).numpy(), expected)
    assert make_windows(torch.from_numpy(x[:, :100]), 160, 80).shape == (0, 64, 160)
    with pytest.raises(ValueError, match="does not divide"):
        make_patches(win, 48)


def test_robust_normalize_matches_numpy_and_clips(eeg_uv):
    x = eeg_uv[:, :4000]
    out = robust_normalize(torch.from_numpy(x), clip=5.0).numpy()
    np.testing.assert_allclose(out, robust_normalize_np(x, clip=5.0), rtol=1e-10, atol=1e-10)
    assert out.max() <= 5.0 and out.min() >= -5.0
    assert np.allclose(np.median(out, axis=-1), 0.0)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the fallback without CUDA")
def test_cuda_request_without_cuda_falls_back_with_a_message(caplog):
    with caplog.at_level(logging.WARNING):
        assert resolve_device("cuda").type == "cpu"
    assert "CUDA is not available" in caplog.text
    assert resolve_device("auto").type == "cpu"


def test_bad_device_and_reference_are_clear_errors():
    with pytest.raises(ValueError, match="'device' parameter"):
        resolve_device("tpu9")
    names, types = ["Cz", "Pz", "ECG"], ["eeg", "eeg", "ecg"]
    assert reference_indices(names, types, "average") == ([0, 1], [0, 1])
    assert reference_indices(names, types, "Pz") == ([1], [0, 1])
    assert reference_indices(names, types, "average", bads=["Pz"]) == ([0], [0])
    with pytest.raises(ValueError, match=r"'reference' parameter.*missing \['A1'\]"):
        reference_indices(names, types, "A1")
    with pytest.raises(ValueError, match="no good EEG channel"):
        reference_indices(["ECG"], ["ecg"], "average")


def test_gpu_fused_config_mirrors_mne_config():
    mne_cfg = yaml.safe_load((CONF / "mne.yaml").read_text())
    gpu_cfg = yaml.safe_load((CONF / "gpu_fused.yaml").read_text())
    assert gpu_cfg.pop("backend") == "gpu_fused" and mne_cfg.pop("backend") == "mne"
    assert gpu_cfg.pop("device") == "auto"
    assert gpu_cfg.pop("batch_max_files") >= 1 and gpu_cfg.pop("batch_max_samples") > 0
    assert gpu_cfg == mne_cfg
    spec = PreprocessSpec.from_config({**gpu_cfg, "backend": "gpu_fused", "device": "auto"})
    assert spec.backend == "gpu_fused" and spec.device == "auto"
    assert PreprocessSpec().device == "auto"
