"""A study pretrains every objective on one pool and renders tables with provenance (real data)."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_every_objective_sees_the_same_pool_and_the_report_says_so(tmp_path, data_root,
                                                                    cache_root):
    from hydra import compose, initialize_config_dir

    from eegbench.resources import config_dir
    from eegbench.studies import run_study
    from eegbench.studies.report import render

    runs = tmp_path / "runs"
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[
            "+exp=objective_study", f"paths.data_root={data_root}",
            f"paths.cache_dir={cache_root}", f"paths.runs_dir={runs}",
            "dataset.subjects=['00','01','02','03','04']",
            "study.objectives=[masked_patch,next_patch]", "study.steps=[0,2]",
            "study.adaptations=[linear_probe]",
            # eegmmidb: 3 s windows; eeglab tutorial: 1 s epochs = one CBraMod patch, too short
            # to predict a next patch from, so the study leaves it out for BOTH objectives
            "study.corpus=[physionet_eegmmidb_imagery_lr,eeglab_tutorial]",
            "pretrain.batch_size=4", "+pretrain.arch_params.n_layer=1",
            "+pretrain.arch_params.dim_feedforward=32"])
    table = run_study(cfg)
    assert set(table["objective"]) == {"masked_patch", "next_patch"}
    out = runs / "objective_study" / "physionet_eegmat"
    for objective in ("masked_patch", "next_patch"):
        meta = json.loads((out / f"{objective}_step2.pt.json").read_text())
        assert [d["recipe"] for d in meta["datasets"]] == ["physionet_eegmmidb_imagery_lr"]
        assert meta["datasets_left_out"] == ["eeglab_tutorial"]
        assert meta["pretrain_min_patches"] == 2

    written = render(runs, tmp_path / "studies")
    text = written["objectives"].read_text()
    assert "| masked_patch |" in text and "| next_patch |" in text
    assert "### Provenance" in text and "rows computed at git revision" in text
    assert "left out for windows too short" in text and "eeglab_tutorial" in text
    assert (tmp_path / "studies" / "objective_physionet_eegmat_probe_vs_steps.png").stat(
        ).st_size > 0
