"""Every pretraining objective trains on real windows: its loss falls on a fixed real batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from eegbench.models.base import SignalSpec
from eegbench.models.foundation import CBraModModel
from eegbench.models.input_contract import InputAdapter
from eegbench.pretraining.objectives import OBJECTIVES, make_objective
from eegbench.pretraining.tokens import encoder_tokens

SMALL = {"n_layer": 1, "dim_feedforward": 32}


def _real_batch(eegmat, n: int = 8):
    # 4 rest + 4 arithmetic windows of subject 00 (labels are never used)
    subj = eegmat.meta["subject"].astype(str).to_numpy() == "00"
    idx = np.r_[np.flatnonzero(subj & (eegmat.y == 0))[: n // 2],
                np.flatnonzero(subj & (eegmat.y == 1))[: n // 2]]
    wrapper = CBraModModel(arch_params=SMALL, adaptation="from_scratch")
    adapter = InputAdapter(wrapper.contract, eegmat.info["ch_names"], eegmat.info["sfreq"],
                           eegmat.X.shape[-1])
    signal = SignalSpec.from_info(eegmat.info, eegmat.X.shape[-1])
    torch.manual_seed(0)
    net = wrapper.network(signal, adapter)
    x = adapter(torch.from_numpy(np.asarray(eegmat.X[np.sort(idx)], dtype=np.float32)))
    return net, x, wrapper


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_objective_loss_decreases_on_real_windows(eegmat, name):
    net, x, wrapper = _real_batch(eegmat)
    objective = make_objective(name, net, patch_size=wrapper.contract.patch_size,
                               d_model=net.patch_embedding.d_model,
                               sfreq=wrapper.contract.sfreq, n_codes=16)
    objective.prepare([x])
    params = list(net.parameters()) + list(objective.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3)
    losses = []
    for _ in range(15):
        # the same masks / views every step: the loss of this fixed batch must fall
        loss = objective.loss(x, torch.Generator().manual_seed(0))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3]), (name, losses)
    # the objective's own heads are not part of the encoder's state (what is saved)
    assert not set(map(id, objective.parameters())) & set(map(id, net.parameters()))


def test_tokens_are_the_encoder_output_before_proj_out(eegmat):
    net, x, _ = _real_batch(eegmat, n=2)
    seen = {}
    net.encoder.register_forward_hook(lambda m, i, o: seen.setdefault("encoder", o))
    net.proj_out.register_forward_hook(lambda m, i, o: seen.setdefault("proj_out", o))
    with torch.no_grad():
        tokens = encoder_tokens(net, x)
    assert torch.equal(tokens, seen["encoder"]) and "proj_out" not in seen
    assert tokens.shape == (2, x.shape[1], x.shape[2] // 200, net.patch_embedding.d_model)


def test_unknown_objective_is_a_clear_error(eegmat):
    net, _, _ = _real_batch(eegmat, n=2)
    with pytest.raises(ValueError, match="'pretrain.objective'.*masked_patch.*got 'maskd'"):
        make_objective("maskd", net, patch_size=200, d_model=200, sfreq=200.0)


def test_leave_one_dataset_out_corpus_never_contains_the_target(data_root, tmp_path):
    import shutil

    import yaml

    from eegbench.data.recipe import load_recipe
    from eegbench.pretraining.corpus import (
        CorpusLeakError,
        assert_target_not_in_corpus,
        leave_one_dataset_out,
    )

    corpus = leave_one_dataset_out("physionet_eegmmidb_imagery_lr")
    names = [e["recipe"] for e in corpus]
    # sibling recipes read the same recordings folder: they are the same dataset
    assert not [n for n in names if n.startswith("physionet_eegmmidb")]
    assert "physionet_eegmat" in names and "meg_elekta_3ch" not in names
    assert_target_not_in_corpus(corpus, "physionet_eegmmidb_imagery_lr", data_root)

    # a copy of a target recording under another recipe and folder is caught by its sha256
    root = tmp_path / "data"
    (root / "copied").mkdir(parents=True)
    shutil.copy(data_root / "eeglab_tutorial_mnetesting" / "test_raw.set",
                root / "copied" / "test_raw.set")
    shutil.copy(data_root / "eeglab_tutorial_mnetesting" / "test_raw.fdt",
                root / "copied" / "test_raw.fdt")
    (root / "eeglab_tutorial_mnetesting").symlink_to(data_root / "eeglab_tutorial_mnetesting")
    raw = yaml.safe_load(load_recipe("eeglab_tutorial").path.read_text())
    raw["name"], raw["source"]["folder"] = "eeglab_copy", "copied"
    copy = tmp_path / "eeglab_copy.yaml"
    copy.write_text(yaml.safe_dump(raw))
    with pytest.raises(CorpusLeakError, match="'.*eeglab_copy.yaml' contains 2 recording"):
        assert_target_not_in_corpus([str(copy)], "eeglab_tutorial", root)
    with pytest.raises(CorpusLeakError, match="lists the evaluation dataset"):
        assert_target_not_in_corpus(["physionet_eegmat"], "physionet_eegmat", data_root)


@pytest.mark.slow
def test_objective_study_end_to_end_on_real_data(tmp_path, data_root, cache_root):
    from hydra import compose, initialize_config_dir

    from eegbench.resources import config_dir
    from eegbench.studies import run_study

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[
            "+exp=objective_study", f"paths.data_root={data_root}",
            f"paths.cache_dir={cache_root}", f"paths.runs_dir={tmp_path}",
            "dataset.subjects=['00','01','02','03']", "trainer=fast", "trainer.max_epochs=1",
            "study.objectives=[masked_patch,contrastive]", "study.steps=[0,2]",
            "study.adaptations=[linear_probe]", "study.corpus=[eeglab_tutorial]",
            "pretrain.batch_size=4", "+pretrain.arch_params.n_layer=1",
            "+pretrain.arch_params.dim_feedforward=32"])
    table = run_study(cfg)
    assert sorted(set(zip(table["objective"], table["step"], strict=True))) == [
        ("contrastive", 0), ("contrastive", 2), ("masked_patch", 0), ("masked_patch", 2)]
    assert (table["folds"] == 4).all() and table["balanced_accuracy"].between(0, 1).all()
    # the same seed gives the same random initialisation for every objective
    out = tmp_path / "objective_study" / "physionet_eegmat"
    init = [torch.load(out / f"{o}_step0.pt", weights_only=True)
            for o in ("masked_patch", "contrastive")]
    assert all(torch.equal(init[0][k], init[1][k]) for k in init[0])
    trained = torch.load(out / "contrastive_step2.pt", weights_only=True)
    assert not all(torch.equal(init[1][k], trained[k]) for k in trained)
    assert (out / "probe_vs_steps.png").stat().st_size > 0
    # resume: nothing is pretrained or evaluated again
    again = run_study(cfg)
    assert again["checkpoint_sha256"].tolist() == table["checkpoint_sha256"].tolist()


def test_scale_study_plots_score_against_parameters(tmp_path, data_root, cache_root):
    from hydra import compose, initialize_config_dir

    from eegbench.resources import config_dir
    from eegbench.studies import run_study

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[
            "+exp=scale_study", f"paths.data_root={data_root}",
            f"paths.cache_dir={cache_root}", f"paths.runs_dir={tmp_path}",
            "dataset.subjects=['00','01','02','03']", "trainer=fast", "trainer.max_epochs=1",
            "study.steps=[1]", "study.corpus=[eeglab_tutorial]", "pretrain.batch_size=4",
            "~study.sizes", "+study.sizes={a: {n_layer: 1, dim_feedforward: 16}, "
            "b: {n_layer: 2, dim_feedforward: 64}}"])
    table = run_study(cfg)
    assert table["size"].tolist() == ["a", "b"]
    assert table.loc[0, "n_parameters"] < table.loc[1, "n_parameters"]
    out = tmp_path / "objective_study" / "physionet_eegmat"
    for name in ("score_vs_parameters.png", "score_vs_compute.png", "scale_study.csv"):
        assert (out / name).stat().st_size > 0
