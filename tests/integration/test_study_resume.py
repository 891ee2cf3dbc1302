"""A study reuses a pretrained encoder only for the same settings and the same data (real data)."""

from __future__ import annotations

import json

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from eegbench.pretraining.job import (
    milestone_path,
    pool_cache_keys,
    pretraining_fingerprint,
    run_pretraining,
)
from eegbench.resources import config_dir
from eegbench.studies.objective_study import (
    StudyVariant,
    _pretrain_config,
    _pretrained,
    study_corpus,
)


def _reusable(output, steps, pre) -> bool:
    """The study's resume check for the pretraining config ``pre``."""
    return _pretrained(output, steps, pretraining_fingerprint(pre), pool_cache_keys(pre))


def _study_cfg(data_root, cache_root, runs, corpus: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[
            "+exp=objective_study", f"paths.data_root={data_root}",
            f"paths.cache_dir={cache_root}", f"paths.runs_dir={runs}",
            "study.objectives=[masked_patch]", "study.steps=[0,2]",
            f"study.corpus={corpus}", "pretrain.batch_size=4",
            "+pretrain.arch_params.n_layer=1", "+pretrain.arch_params.dim_feedforward=32"])


def test_changed_settings_or_data_pretrain_again(tmp_path, data_root, cache_root):
    cfg = _study_cfg(data_root, cache_root, tmp_path, "[physionet_eegmmidb_imagery_lr]")
    variant = StudyVariant("masked_patch", "masked_patch")
    output = tmp_path / "masked_patch.pt"
    pre = _pretrain_config(cfg, variant, study_corpus(cfg), output)
    run_pretraining(pre)
    assert _reusable(output, [0, 2], pre)  # same settings, same data: reused

    other_lr = OmegaConf.merge(pre, {"pretrain": {"lr": 1e-3}})
    assert not _reusable(output, [0, 2], other_lr)
    other_seed = OmegaConf.merge(pre, {"pretrain": {"seed": 1}})
    assert not _reusable(output, [0, 2], other_seed)

    wider = _study_cfg(data_root, cache_root, tmp_path,
                       "[physionet_eegmmidb_imagery_lr,physionet_eegmmidb_executed_lr]")
    assert not _reusable(output, [0, 2],
                           _pretrain_config(wider, variant, study_corpus(wider), output))

    # the recordings changed (their cache key with them): the saved encoder is stale
    meta_path = milestone_path(output, 2).with_suffix(".pt.json")
    meta = json.loads(meta_path.read_text())
    meta["datasets"][0]["cache_key"] = "0" * 20
    meta_path.write_text(json.dumps(meta))
    assert not _reusable(output, [0, 2], pre)
    # a run length that was never reached is not there to reuse
    assert not _reusable(output, [0, 2, 4], pre)


def test_reuse_only_never_pretrains_nor_evaluates_stale_encoders(tmp_path, data_root,
                                                                 cache_root):
    from eegbench.studies import run_study

    cfg = _study_cfg(data_root, cache_root, tmp_path, "[physionet_eegmmidb_imagery_lr]")
    output = tmp_path / "objective_study" / "physionet_eegmat" / "masked_patch.pt"
    output.parent.mkdir(parents=True)
    run_pretraining(_pretrain_config(cfg, StudyVariant("masked_patch", "masked_patch"),
                                     study_corpus(cfg), output))
    before = {p.name: p.stat().st_mtime_ns for p in output.parent.iterdir()}

    stale = OmegaConf.merge(cfg, {"pretrain": {"lr": 1e-3},
                                  "study": {"reuse_only": True,
                                            "adaptations": ["linear_probe"]}})
    table = run_study(stale)
    assert table.empty  # nothing of these settings exists, so nothing was evaluated
    assert {p.name: p.stat().st_mtime_ns for p in output.parent.iterdir()} == before
