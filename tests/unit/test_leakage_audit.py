"""Leakage audit on real eegmat: the window-level K-fold leak inflates scores, paired by subject."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from eegbench.protocols.audit import VARIANTS, expand, variant_fold
from eegbench.protocols.splitters import make_splitter
from eegbench.resources import config_dir

SUBJECTS = 'dataset.subjects=["00","01","02","03","04","05"]'


def _cfg(tmp, cache, data_root, *overrides):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[
            SUBJECTS, f"paths.data_root={data_root}", f"paths.cache_dir={cache}",
            f"paths.runs_dir={tmp}", "model=ts_lr", *overrides])


@pytest.mark.slow
def test_window_level_kfold_scores_higher_than_leave_one_subject_out(tmp_path, cache_root,
                                                                     data_root):
    from eegbench.evaluation.job import run_experiment
    from eegbench.leaderboard.sections import audit_table
    from eegbench.results.store import ResultStore

    run_experiment(_cfg(tmp_path, cache_root, data_root, "+audit=leakage",
                        "audit.variants=[window_kfold]"))
    frame = ResultStore(tmp_path / "default" / "results").to_frame()
    assert set(frame["protocol"]) == {"loso", "loso~leaky:window_kfold"}
    table = audit_table(frame, {"physionet_eegmat": "balanced_accuracy"})
    (row,) = table.to_dict("records")
    assert row["n_subjects"] == 6 and row["variant"] == "window_kfold"
    # neighbouring windows of the test recordings in training: near-perfect, far above clean
    assert row["leaky"] > row["clean"] + 0.2 and row["inflation"] > 0.2
    leaky = frame[frame["protocol"] == "loso~leaky:window_kfold"]
    clean = frame[frame["protocol"] == "loso"].set_index("test_subject")
    for _, r in leaky.iterrows():
        assert r["metric.balanced_accuracy"] >= clean.loc[r["test_subject"],
                                                          "metric.balanced_accuracy"]
        assert r["fit_report"]["clean_config_hash"] == clean.loc[r["test_subject"],
                                                                 "config_hash"]


def test_leaky_folds_are_variants_of_the_clean_folds(eegmat):
    meta = eegmat.meta
    subjects = meta["subject"].to_numpy()
    for i, fold in enumerate(make_splitter("loso", seed=0).split(meta)):
        leaky = variant_fold(VARIANTS["window_kfold"], fold, meta, 0, i, 5)
        own = np.flatnonzero(subjects == fold.test_subjects[0])
        assert set(leaky.test) < set(own) and len(leaky.test) == len(own) // 5
        # the rest of the test subject's windows are now training windows (the leak)
        assert set(own) - set(leaky.test) <= set(leaky.train)
        assert np.array_equal(leaky.valid, fold.valid)
        early = variant_fold(VARIANTS["early_stop_on_test"], fold, meta, 0, i, 5)
        assert np.array_equal(early.valid, fold.test)
        if i == 3:
            break


def test_variant_names_are_checked():
    assert [v.name for v in expand(["normalise_all"])] == ["normalise_train", "normalise_all"]
    assert expand(["pretraining_contains_test"]) == []
    with pytest.raises(ValueError, match="audit.variants"):
        expand(["magic"])
