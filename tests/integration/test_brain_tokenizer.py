"""The sensor-aware VQ tokenizer trains on real EEG and tokenizes real MEG with the same weights."""

from __future__ import annotations

import mne
import numpy as np
import torch
from hydra import compose, initialize_config_dir

from eegbench.models import SignalSpec, build_model
from eegbench.models.brain_tokenizer import BrainTokenizer, sensor_table
from eegbench.resources import config_dir

ARCH = {"patch_size": 64, "dim": 32, "n_codes": 32}


def meg_windows(data_root):
    raw = mne.io.read_raw_fif(data_root / "meg_elekta_3ch_mnetesting" / "test_elekta_3ch_raw.fif",
                              verbose="error").pick("meg").load_data(verbose="error")
    raw.resample(128.0, verbose="error")
    kinds = {"mag": "mag", "grad": "grad"}
    types = [kinds[t] for t in raw.get_channel_types()]
    pos = {ch["ch_name"]: ch["loc"][:3].tolist() for ch in raw.info["chs"]}
    ori = {ch["ch_name"]: ch["loc"][9:12].tolist() for ch in raw.info["chs"]}
    data = raw.get_data()
    scale = np.where(np.array(types) == "mag", 1e13, 1e11)[:, None]  # fT / (10 fT/cm)
    X = np.stack([data[:, i:i + 256] for i in range(0, data.shape[1] - 256, 256)][:4])
    signal = SignalSpec(n_chans=len(types), n_times=256, sfreq=128.0, n_outputs=2,
                        ch_names=tuple(raw.ch_names), ch_pos=pos, ch_types=tuple(types),
                        ch_ori=ori)
    return (X * scale).astype(np.float32), signal


def test_tokenizer_pretrains_on_eeg_and_reads_meg(tmp_path, data_root, cache_root, eegmat):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[
            "+exp=pretrain", f"paths.data_root={data_root}", f"paths.cache_dir={cache_root}",
            f"paths.runs_dir={tmp_path}", "pretrain.model=brain_tokenizer",
            "+pretrain.arch_params.dim=32", "+pretrain.arch_params.n_codes=32",
            "pretrain.max_steps=6",
            "pretrain.batch_size=8", "pretrain.log_every=3",
            "pretrain.datasets=[{recipe: physionet_eegmat, subjects: ['19']}]",
            "pretrain.output=${paths.runs_dir}/tok.pt"])
    from eegbench.pretraining.job import run_pretraining

    meta = run_pretraining(cfg)
    assert meta["objective"] == "vq_patch_reconstruction" and np.isfinite(meta["loss_last"])

    tok = BrainTokenizer(**ARCH)
    tok.load_state_dict(torch.load(tmp_path / "tok.pt"))
    X, signal = meg_windows(data_root)
    sensors = sensor_table(signal, list(signal.ch_names))
    assert sensors[:, -3:].argmax(1).tolist() == [["eeg", "mag", "grad"].index(t)
                                                  for t in signal.ch_types]
    q, codes, _ = tok(torch.from_numpy(X), sensors)
    assert q.shape == (4, 3, 4, ARCH["dim"]) and codes.max() < ARCH["n_codes"]
    # the sensor description changes the tokens: same signal read as EEG tokenizes differently
    eeg_like = sensor_table(SignalSpec(3, 256, 128.0, 2, ch_names=signal.ch_names), list(
        signal.ch_names))
    assert not torch.allclose(tok.tokens(torch.from_numpy(X), sensors),
                              tok.tokens(torch.from_numpy(X), eeg_like))

    # and the trained tokenizer is a benchmark encoder (linear probe on real eegmat windows)
    idx = np.r_[0:6, 40:46]
    Xe, ye = np.asarray(eegmat.X[idx], dtype=np.float32), eegmat.y[idx]
    model = build_model("brain_tokenizer", adaptation="linear_probe",
                        checkpoint=str(tmp_path / "tok.pt"),
                        trainer={"max_epochs": 1, "batch_size": 8})
    model.fit(Xe, ye, Xe, ye, SignalSpec.from_info(eegmat.info, Xe.shape[-1]), seed=0)
    assert model.encode(Xe).shape == (len(Xe), ARCH["dim"])


def test_sensor_inputs_from_the_meg_recipe_carry_types_positions_orientations(data_root,
                                                                            cache_root):
    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    ds = load_windows(load_recipe("meg_elekta_3ch"), data_root, PreprocessSpec(), cache_root)
    signal = SignalSpec.from_info(ds.info, ds.X.shape[-1])
    raw = mne.io.read_raw_fif(data_root / "meg_elekta_3ch_mnetesting" / "test_elekta_3ch_raw.fif",
                              verbose="error")
    for ch in raw.info["chs"]:
        if ch["ch_name"] in signal.ch_names:  # geometry straight from the file
            assert np.allclose(signal.ch_ori[ch["ch_name"]], ch["loc"][9:12])
            assert np.allclose(signal.ch_pos[ch["ch_name"]], ch["loc"][:3])
    sensors = sensor_table(signal, list(signal.ch_names)).numpy()
    assert sensors[:, -3:].argmax(1).tolist() == [1, 2, 2]  # mag, grad, grad
    assert np.all(np.linalg.norm(sensors[:, 3:6], axis=1) > 0.99)  # unit orientations
    tok = BrainTokenizer(**ARCH)
    X = torch.from_numpy(np.asarray(ds.X[:4], dtype=np.float32))
    codes = tok(X, torch.from_numpy(sensors))[1]
    assert codes.shape == (4, 3, X.shape[-1] // ARCH["patch_size"])


def test_joint_eeg_meg_pretraining_on_real_recordings(tmp_path, data_root, cache_root):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[
            "+exp=pretrain_tokenizer_eeg_meg", f"paths.data_root={data_root}",
            f"paths.cache_dir={cache_root}", f"paths.runs_dir={tmp_path}",
            "+pretrain.arch_params.dim=32", "+pretrain.arch_params.n_codes=32",
            "pretrain.max_steps=6", "pretrain.batch_size=8", "pretrain.log_every=3",
            "pretrain.datasets=[{recipe: meg_elekta_3ch}, {recipe: eeglab_tutorial}]"])
    from eegbench.pretraining.job import load_pool, run_pretraining

    pool = load_pool(cfg, "brain_tokenizer")
    types = {t for src in pool for t in src.windows.info["ch_types"]}
    assert {"mag", "grad", "eeg"} <= types
    meta = run_pretraining(cfg)
    assert np.isfinite(meta["loss_last"]) and meta["loss_last"] < meta["loss_first"] * 10
    assert [d["recipe"] for d in meta["datasets"]] == ["meg_elekta_3ch", "eeglab_tutorial"]
