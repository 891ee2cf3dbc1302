"""Fold-parallel training on real eegmat folds (CPU).

Exact mode (``trainer.fold_parallel=exact``: folds stacked, convolutions per fold) must give,
fold by fold, the same rows as training fold after fold: bit-identical weights, losses,
selected epochs and test probabilities (one CPU thread), with dropout on (each fold draws its
masks from its own generator, seeded as the sequential loop seeds the global one). Fast mode
(one grouped convolution over the folds) differs in the last bits of the weight gradients; its
scores are compared with the sequential ones by an equivalence test (slow).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from eegbench.models.base import SignalSpec, build_model, load_builtin_models
from eegbench.models.fold_parallel import model_blockers, parallel_mode
from eegbench.training.fold_parallel.support import stacking_blockers
from eegbench.training.fold_parallel.trainer import FoldTask, fit_folds_together
from eegbench.training.loop import TrainerSpec, fit_classifier
from eegbench.training.resident import ResidentWindows

#: Every recipe knob the stack must reproduce per fold.
RECIPE = ["trainer.max_epochs=2", "trainer.batch_size=32", "trainer.patience=1",
          "trainer.bn_reestimate=true", "trainer.refit_on_train_valid=true",
          "trainer.grad_clip=1.0", "trainer.schedule=cosine", "trainer.label_smoothing=0.1",
          "trainer.weight_decay=0.01", "protocol.n_valid_subjects=1", "trainer.device=cpu"]


def _subjects(ds, n):
    return sorted(ds.meta["subject"].unique())[:n]


def _compose(data_root, cache, runs, subjects, *overrides):
    from pathlib import Path

    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        return compose("config", overrides=[
            f"dataset.subjects=[{','.join(subjects)}]", f"paths.data_root={data_root}",
            f"paths.cache_dir={cache}", f"paths.runs_dir={runs}", "model=eegnet", *RECIPE,
            # braindecode's own forward on both paths (a stack runs it under vmap; the exact
            # fused forward of eegbench.models.eegnet_fast agrees with it to float32 rounding,
            # not bit for bit, so fold after fold would otherwise differ in the last bits)
            "+model.params.fast_path=false",
            *overrides])


def _rows(cfg):
    from eegbench.evaluation.job import run_experiment

    return {r["fold"]: r for r in run_experiment(cfg)}


@pytest.mark.slow
def test_exact_stack_gives_the_sequential_rows(eegmat, data_root, cache_root, tmp_path):
    torch.set_num_threads(1)
    subjects = _subjects(eegmat, 4)
    sequential = _rows(_compose(data_root, cache_root, tmp_path / "seq", subjects,
                                "trainer.fold_parallel=false"))
    stacked = _rows(_compose(data_root, cache_root, tmp_path / "par", subjects,
                             "trainer.fold_parallel=exact"))
    assert sorted(sequential) == sorted(stacked) and len(stacked) == len(subjects)
    for fold, row in sequential.items():
        other = stacked[fold]
        assert other["fit_report"]["fold_parallel"]["mode"] == "exact"
        assert "fold_parallel" not in row["fit_report"]
        assert other["predictions"] == row["predictions"], fold
        metrics = [k for k in row if k.startswith("metric.")]
        assert metrics and all(other[k] == row[k] for k in metrics), fold
        for key in ("best_epoch", "epochs_run", "best_valid_loss", "train_loss_first",
                    "train_loss_last", "trained_on", "train_subjects", "budget"):
            assert other["fit_report"][key] == row["fit_report"][key], (fold, key)
        assert row["config_hash"] == other["config_hash"]  # the schedule is not an identity
    # the refit ran (the recipe asks for it) and the folds did not all stop alike
    assert all("refit_epochs" in r["fit_report"]["budget"] for r in sequential.values())


def test_a_stopped_fold_is_final_at_once_and_matches_its_own_fit(eegmat):
    """Per-fold budgets: fold 0 stops after one epoch and is handed over while fold 1 trains."""
    torch.set_num_threads(1)
    load_builtin_models()
    signal = SignalSpec.from_info(eegmat.info, eegmat.X.shape[-1])
    subjects = np.asarray(eegmat.meta["subject"])
    names = _subjects(eegmat, 5)
    index = {s: np.flatnonzero(subjects == s) for s in names}
    folds = [(np.concatenate([index[names[0]], index[names[1]]]), index[names[2]]),
             (np.concatenate([index[names[1]], index[names[3]]]), index[names[4]])]
    spec = TrainerSpec(batch_size=32, lr=2e-3, grad_clip=1.0, schedule="cosine", patience=None,
                       bn_reestimate=True, device="cpu")
    budgets, seeds = [1, 2], [3, 4]

    def network(seed):
        torch.manual_seed(seed)  # braindecode's forward on both paths (see _compose)
        return build_model("eegnet", fast_path=False).build(signal)

    expected = []
    for (train, valid), epochs, seed in zip(folds, budgets, seeds, strict=True):
        module = network(seed)
        fit_classifier(module, eegmat.X[train], eegmat.y[train], eegmat.X[valid],
                       eegmat.y[valid], 2, spec.merged(max_epochs=epochs), seed)
        expected.append(module.state_dict())
    tasks = [FoldTask(network(seed), train, valid, spec.merged(max_epochs=epochs), seed)
             for (train, valid), epochs, seed in zip(folds, budgets, seeds, strict=True)]
    handed = []

    def on_done(k, report):
        handed.append((k, report.epochs_run,
                       {n: t.clone() for n, t in tasks[k].module.state_dict().items()}))

    data = ResidentWindows(eegmat.X, eegmat.y, torch.device("cpu"))
    reports = fit_folds_together(tasks, data, eegmat.y, 2, exact=True, on_done=on_done)
    assert [(k, e) for k, e, _ in handed] == [(0, 1), (1, 2)]
    assert [r.epochs_run for r in reports] == budgets
    for k, _, state in handed:
        for name, value in expected[k].items():
            assert torch.equal(state[name], value), (k, name)
            assert torch.equal(tasks[k].module.state_dict()[name], value)  # no later update


def test_stacking_support_is_declared_or_checked(eegmat):
    load_builtin_models()
    signal = SignalSpec.from_info(eegmat.info, eegmat.X.shape[-1])
    eegnet = build_model("eegnet")
    assert stacking_blockers(eegnet.build(signal), eegnet) == []
    conformer = build_model("eegconformer")
    reasons = stacking_blockers(conformer.build(signal), conformer)
    assert any("MultiHeadAttention" in r for r in reasons)
    eegnet.supports_fold_stacking = False
    assert "supports_fold_stacking = False" in stacking_blockers(eegnet.build(signal), eegnet)[0]
    probe = build_model("eegnet", adaptation="linear_probe")
    assert any("linear_probe" in r for r in model_blockers(probe))
    assert parallel_mode(TrainerSpec(device="cpu")) is None  # auto: fold after fold on a CPU
    assert parallel_mode(TrainerSpec(fold_parallel="true", device="cpu")) == "fast"
    assert parallel_mode(TrainerSpec(fold_parallel="exact")) == "exact"
    assert parallel_mode(TrainerSpec(fold_parallel=False)) is None


@pytest.mark.slow
def test_fast_stack_scores_are_equivalent_to_sequential(eegmat, data_root, cache_root,
                                                        tmp_path):
    """Two one-sided tests (TOST): the paired per-fold balanced-accuracy difference between
    the fast stack and fold-after-fold training lies within +-0.03 (95 % confidence)."""
    from scipy import stats

    subjects = _subjects(eegmat, 12)
    recipe = ["trainer.refit_on_train_valid=false", "trainer.max_epochs=3"]
    sequential = _rows(_compose(data_root, cache_root, tmp_path / "seq", subjects, *recipe,
                                "trainer.fold_parallel=false"))
    fast = _rows(_compose(data_root, cache_root, tmp_path / "fast", subjects, *recipe,
                          "trainer.fold_parallel=true"))
    diff = np.array([fast[f]["metric.balanced_accuracy"]
                     - sequential[f]["metric.balanced_accuracy"] for f in sequential])
    margin, n = 0.03, len(diff)
    se = max(diff.std(ddof=1), 1e-12) / np.sqrt(n)
    p_lower = stats.t.sf((diff.mean() + margin) / se, n - 1)
    p_upper = stats.t.cdf((diff.mean() - margin) / se, n - 1)
    assert max(p_lower, p_upper) < 0.05, (diff, p_lower, p_upper)
    assert all(fast[f]["fit_report"]["fold_parallel"]["mode"] == "fast" for f in fast)
