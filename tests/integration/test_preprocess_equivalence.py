"""Fused torch preprocessing vs the MNE pipeline on the real recordings (every shared dataset).

Error measure: max |fused - MNE| over each channel, divided by that channel's RMS (MNE
output), over the whole signal, edges included.
"""

from __future__ import annotations

import dataclasses

import mne
import numpy as np
import pytest
import torch

from eegbench.data.preprocess.cases import CASES, case_sources, load_case, load_raw, to_recording
from eegbench.data.preprocess.fused import FusedPreprocessor
from eegbench.data.preprocess.mne_ref import mne_filter_resample
from eegbench.data.preprocess.params import FilterParams, Recording
from eegbench.data.standardize import PreprocessSpec, filter_resample

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
#: recordings per dataset in the test (a couple, to keep the suite fast)
N_FILES = 2
EDGE = 64  # samples at each end checked on their own


def rel_err(ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Per-channel max abs error relative to the channel RMS of ``ref``."""
    return np.abs(ref - out).max(axis=-1) / np.sqrt((ref**2).mean(axis=-1))


@pytest.fixture(scope="module")
def case_data(data_root):
    cache = {}

    def get(name):
        if name not in cache:
            recs = load_case(CASES[name], data_root, N_FILES)
            cache[name] = (recs, [mne_filter_resample(r, CASES[name].params) for r in recs])
        return cache[name]

    return get


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(CASES))
def test_fused_matches_mne_on_every_dataset(case_data, name, device):
    recs, expected = case_data(name)
    params = CASES[name].params
    for dtype, tol in (("float64", 1e-10), ("float32", 1e-4)):
        out = FusedPreprocessor(params, device=device, dtype=dtype)(recs)
        assert len(out) == len(recs)
        for rec, ref, y in zip(recs, expected, out, strict=True):
            y = y.cpu().numpy()
            assert y.shape == ref.shape, rec.name
            assert np.isfinite(y).all()
            whole = rel_err(ref, y).max()
            ends = np.r_[0:EDGE, y.shape[1] - EDGE : y.shape[1]]
            edges = (np.abs(ref - y)[:, ends].max(axis=-1) / np.sqrt((ref**2).mean(-1))).max()
            assert whole < tol, f"{rec.name} {dtype}: {whole:.2e}"
            assert edges < tol, f"{rec.name} {dtype} edges: {edges:.2e}"


def test_mixed_lengths_and_short_recordings_in_one_call(data_root):
    """One call with a full run, a cropped run (same FFT batch) and a recording shorter
    than the cascaded filters (step-by-step path); outputs come back in input order."""
    case = CASES["physionet_eegmmidb"]
    raws = [load_raw(*pair) for pair in case_sources(case, data_root, 2)]
    recs = [
        to_recording(raws[0], case.reference, "R03 full"),
        to_recording(raws[1].copy().crop(0, 110.0, include_tmax=False), case.reference,
                     "R04 110 s"),
        to_recording(raws[1].copy().crop(20.0, 24.0, include_tmax=False), case.reference,
                     "R04 4 s"),
    ]
    assert len({r.shape[1] for r in recs}) == 3
    out = FusedPreprocessor(case.params, device="cpu", dtype="float64")(recs)
    for rec, y in zip(recs, out, strict=True):
        ref = mne_filter_resample(rec, case.params)
        assert y.shape == ref.shape
        assert rel_err(ref, y.numpy()).max() < 1e-10, rec.name
    # one FFT batch per recording gives the same result
    alone = FusedPreprocessor(case.params, device="cpu", dtype="float64", max_batch_bytes=1)(recs)
    for y, z in zip(out, alone, strict=True):
        np.testing.assert_allclose(z.numpy(), y.numpy(), rtol=0, atol=1e-9 * y.abs().max().item())


def test_mne_ref_equals_the_raw_method_pipeline(data_root):
    """The array reference is exactly what standardize's MNE path does to a Raw."""
    case = CASES["physionet_eegmmidb"]
    raw = load_raw(*case_sources(case, data_root, 1)[0])
    spec = PreprocessSpec(sfreq=128.0, l_freq=0.5, h_freq=40.0, notch=60.0, reference="average")
    via_raw = filter_resample(raw.copy(), spec).get_data()
    params = FilterParams(spec.sfreq, spec.l_freq, spec.h_freq, spec.notch)
    via_array = mne_filter_resample(to_recording(raw, "average"), params) / 1e6
    np.testing.assert_allclose(via_array, via_raw, rtol=0, atol=1e-12 * np.abs(via_raw).max())


@pytest.mark.parametrize(
    ("folder", "pattern", "spec"),
    [
        ("meg_elekta_3ch_mnetesting", "*.fif",  # stim channel, first_samp 3000
         PreprocessSpec(250.0, 1.0, 100.0, 50.0, None)),
        ("physionet_eegmmidb", "S001/S001R03.edf",  # annotations, average reference
         PreprocessSpec(128.0, 0.5, 40.0, 60.0, "average")),
        ("physionet_eegmat", "Subject00_2.edf",  # reference to a named channel
         PreprocessSpec(128.0, 0.5, 45.0, 50.0, "EEG A2-A1")),
    ],
)
def test_gpu_fused_backend_gives_the_mne_backends_raw(data_root, folder, pattern, spec):
    raw = mne.io.read_raw(next((data_root / folder).glob(pattern)), preload=True,
                          verbose="error")
    a = filter_resample(raw.copy(), spec)
    b = filter_resample(raw.copy(), dataclasses.replace(spec, backend="gpu_fused",
                                                        device="cpu"))
    assert b.ch_names == a.ch_names
    assert b.first_samp == a.first_samp
    np.testing.assert_array_equal(b.times, a.times)
    for key in ("sfreq", "lowpass", "highpass", "custom_ref_applied"):
        assert b.info[key] == a.info[key], key
    np.testing.assert_allclose(b.annotations.onset, a.annotations.onset)
    assert list(b.annotations.description) == list(a.annotations.description)
    da, db = a.get_data(), b.get_data()
    data = mne.pick_types(a.info, meg=True, eeg=True)
    rms = np.sqrt((da[data] ** 2).mean(-1))
    rms = np.where(rms > 0, rms, np.median(rms))  # a reference channel is all zeros
    assert (np.abs(da[data] - db[data]).max(-1) / rms).max() < 1e-4
    stim = mne.pick_types(a.info, meg=False, stim=True)
    np.testing.assert_array_equal(db[stim], da[stim])  # stim channels: MNE's own resampling
    assert len(stim) == (folder == "meg_elekta_3ch_mnetesting")


@pytest.mark.parametrize(("recipe_name", "suffix"), [
    ("physionet_eegmat", "_2.edf"),  # fixed windows
    ("meg_elekta_3ch", ".fif"),  # MEG (mag + grad), events from the stim channel
    ("physionet_eegmmidb_imagery_lr", "R04.edf"),  # events from EDF annotations
])
def test_standardize_file_with_gpu_fused_backend(data_root, recipe_name, suffix):
    from eegbench.data.readers import read_source
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import standardize_file

    recipe = load_recipe(recipe_name)
    source = next(s for s in recipe.discover(data_root) if s.relpath.endswith(suffix))
    spec = PreprocessSpec(notch=50.0, reference="average")
    w_mne, rows_mne, info_mne = standardize_file(source, read_source(source, recipe),
                                                 recipe, spec)
    fused_spec = dataclasses.replace(spec, backend="gpu_fused", device="cpu")
    w_gpu, rows_gpu, info_gpu = standardize_file(source, read_source(source, recipe),
                                                 recipe, fused_spec)
    assert w_gpu.dtype == np.float32 and w_gpu.shape == w_mne.shape and len(w_mne) > 0
    assert rows_gpu == rows_mne
    loc_gpu, loc_mne = info_gpu.pop("ch_loc"), info_mne.pop("ch_loc")  # may hold NaN
    assert info_gpu == info_mne
    np.testing.assert_array_equal(list(loc_gpu.values()), list(loc_mne.values()))
    flat = lambda w: w.transpose(1, 0, 2).reshape(w.shape[1], -1).astype(np.float64)  # noqa: E731
    assert rel_err(flat(w_mne), flat(w_gpu)).max() < 1e-4


def test_unknown_backend_is_a_clear_error(data_root):
    raw = mne.io.RawArray(np.random.default_rng(0).normal(size=(2, 1000)) * 1e-5,
                          mne.create_info(2, 250.0, "eeg"), verbose="error")
    with pytest.raises(ValueError, match=r"preprocess.backend.*'gpu_fused', 'mne'.*'cuda_magic'"):
        filter_resample(raw, PreprocessSpec(backend="cuda_magic"))


def test_recording_shape_errors_name_the_file():
    rec = Recording(np.zeros(100), 100.0, name="foo.edf")
    with pytest.raises(ValueError, match=r"foo.edf: data must have shape \(n_channels, n_times\)"):
        FusedPreprocessor(FilterParams(), device="cpu")([rec])
