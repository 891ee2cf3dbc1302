"""Hyperparameters: a priori defaults or nested selection on the training subjects, recorded."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from eegbench.protocols.nested import candidates
from eegbench.resources import config_dir

SUBJECTS = 'dataset.subjects=["00","01","02","03"]'


def _cfg(tmp, cache, data_root, *overrides):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[
            SUBJECTS, f"paths.data_root={data_root}", f"paths.cache_dir={cache}",
            f"paths.runs_dir={tmp}", "model=ts_lr", "protocol.n_valid_subjects=1", *overrides])


@pytest.mark.slow
def test_rows_record_how_hyperparameters_were_decided(tmp_path, cache_root, data_root):
    from eegbench.evaluation.job import run_experiment

    prior = run_experiment(_cfg(tmp_path, cache_root, data_root))
    nested = run_experiment(_cfg(tmp_path, cache_root, data_root,
                                 "+hp_search.grid.C=[0.01,1.0]", "+hp_search.inner_folds=2"))
    assert len(prior) == len(nested) == 4
    assert all(r["hp_source"].startswith("a priori:") for r in prior)
    assert {r["config_hash"] for r in prior}.isdisjoint({r["config_hash"] for r in nested})
    for row in nested:
        search = row["fit_report"]["hp_search"]
        assert row["hp_source"].startswith("nested: 2-fold group K-fold over 2 training subj")
        assert search["selected"]["C"] in (0.01, 1.0) and len(search["scores"]) == 2
        # the inner folds only ever saw training subjects: the test subject is in none
        assert row["test_subject"] not in row["valid_subjects"]
        # predictions are stored for the tests against chance
        assert len(row["predictions"]["y"]) == row["n_test"]


def test_grid_errors_are_clear():
    assert candidates({"C": [1, 2], "a": [0]}) == [{"C": 1, "a": 0}, {"C": 2, "a": 0}]
    with pytest.raises(ValueError, match="hp_search.grid"):
        candidates({})
    with pytest.raises(ValueError, match="hp_search.grid.C"):
        candidates({"C": 1})
