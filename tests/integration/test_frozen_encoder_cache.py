"""A frozen foundation encoder's features are computed once per dataset and seed.

Real eegmat windows (the first few subjects, whatever their ids), a small CBraMod from the
seed's random initialisation under ``linear_probe``: leave-one-subject-out with the cache gives
the same rows as re-encoding every fold, and the cache key follows the seed (the weights).
"""

from __future__ import annotations

import numpy as np
from hydra import compose, initialize_config_dir

from eegbench.features.precompute import precompute_fold_invariant
from eegbench.models.base import SignalSpec, build_model
from eegbench.resources import config_dir

N_SUBJECTS = 4
SMALL = {"n_layer": 2, "dim_feedforward": 64, "nhead": 4}


def _probe_model(**kw):
    return build_model("cbramod", adaptation="linear_probe", init="random",
                       arch_params=SMALL, **kw)


def test_loso_probe_rows_identical_with_and_without_encoder_cache(eegmat, data_root,
                                                                  tmp_path):
    from eegbench.evaluation.job import run_experiment

    subjects = ",".join(sorted(eegmat.meta["subject"].unique())[:N_SUBJECTS])
    rows_by_flag = {}
    for flag in ("true", "false"):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("config", overrides=[
                f"dataset.subjects=[{subjects}]", f"paths.data_root={data_root}",
                f"paths.cache_dir={tmp_path / 'cache'}", f"paths.runs_dir={tmp_path / flag}",
                "model=cbramod", "model.adaptation=linear_probe", "model.params.init=random",
                *[f"+model.params.arch_params.{k}={v}" for k, v in SMALL.items()],
                f"+feature_cache={flag}", "trainer.num_threads=1"])
        rows = run_experiment(cfg)
        assert len(rows) == N_SUBJECTS
        rows_by_flag[flag] = {r["fold"]: r for r in rows}
    entries = list((tmp_path / "cache" / "features").iterdir())
    assert len([e for e in entries if e.is_dir()]) == 1  # one encoding for all folds
    for fold, cached in rows_by_flag["true"].items():
        plain = rows_by_flag["false"][fold]
        assert "precomputed" in cached["fit_report"]["fold_invariant_features"]
        assert "fold_invariant_features" not in plain["fit_report"]
        assert cached["fit_report"]["converged"] and plain["fit_report"]["converged"]
        # the same probe on the same features (batching may move float32 sums by an ulp)
        np.testing.assert_allclose(cached["predictions"]["proba"],
                                   plain["predictions"]["proba"], atol=2e-3)
        assert cached["predictions"]["y"] == plain["predictions"]["y"]
        assert cached["n_trainable"] == plain["n_trainable"]
        assert set(cached["fit_report"]["train_subjects"]) == set(
            plain["fit_report"]["train_subjects"])


def test_encoder_cache_key_follows_the_seed_and_reuses_per_seed(eegmat, tmp_path):
    subjects = sorted(eegmat.meta["subject"].unique())[:2]
    keep = eegmat.meta["subject"].isin(subjects).to_numpy()
    X = np.asarray(eegmat.X[keep])
    signal = SignalSpec.from_info(eegmat.info, X.shape[-1])
    F0 = precompute_fold_invariant(_probe_model(), X, signal, tmp_path, seed=0)
    again = precompute_fold_invariant(_probe_model(), X, signal, tmp_path, seed=0)
    F1 = precompute_fold_invariant(_probe_model(), X, signal, tmp_path, seed=1)
    np.testing.assert_array_equal(F0, again)
    assert not np.allclose(F0, F1)  # another seed draws other weights: other features
    assert len([e for e in (tmp_path / "features").iterdir() if e.is_dir()]) == 2
    # a random initialisation without a seed, and trained adaptations, are not fold-invariant
    assert _probe_model().fold_invariant_transformer(signal) is None
    finetuned = build_model("cbramod", adaptation="finetune", init="random", arch_params=SMALL)
    assert finetuned.fold_invariant_transformer(signal, seed=0) is None


def test_weights_hash_covers_scalar_buffers():
    """Scalar (0-d) buffers are hashed too, and a change in one changes the hash."""
    import torch
    from torch import nn

    from eegbench.features.frozen_encoder import module_weights_sha256

    module = nn.Linear(3, 2)
    module.register_buffer("temperature", torch.tensor(1.0))
    before = module_weights_sha256(module)
    module.temperature.fill_(2.0)
    assert module_weights_sha256(module) != before
