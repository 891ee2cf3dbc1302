"""Fixed subject split on real eegmat: reproduces the declared (published) lists exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from eegbench.leaderboard.published import load_published, matching
from eegbench.protocols.splitters import make_splitter
from eegbench.resources import config_dir


def _protocol(dataset: str) -> dict:
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["protocol=fixed_split", f"dataset={dataset}"])
    return OmegaConf.to_container(cfg.protocol, resolve=True)


def test_fixed_split_reproduces_the_declared_subject_lists(eegmat):
    protocol = _protocol("physionet_eegmat")
    declared = protocol["split"]
    assert "CBraMod" in declared["source"]
    (fold,) = list(make_splitter(protocol.pop("name"), seed=0, **protocol).split(eegmat.meta))
    subjects = eegmat.meta["subject"].astype(str).to_numpy()
    for part, idx in (("train", fold.train), ("valid", fold.valid), ("test", fold.test)):
        assert sorted(set(subjects[idx])) == sorted(declared[part])
        # every window of a declared subject is in its part
        assert len(idx) == np.isin(subjects, declared[part]).sum()
    # 1-based subjects 1-28 / 29-32 / 33-36 of the CBraMod paper = files Subject00-35
    assert declared["test"] == ["32", "33", "34", "35"]
    assert len(declared["train"]) == 28 and len(declared["valid"]) == 4
    assert fold.test_subjects == tuple(declared["test"])
    # the leaderboard finds the published figure of this split
    assert matching("physionet_eegmat", "fixed_split", ",".join(fold.test_subjects))


def test_dataset_without_a_declared_split_is_a_clear_error():
    protocol = _protocol("ssvep_exo_kalunga2016")
    assert protocol["split"] is None
    with pytest.raises(ValueError, match="fixed_split.*conf/dataset"):
        make_splitter(protocol.pop("name"), seed=0, **protocol)


def test_missing_or_overlapping_subjects_are_clear_errors(eegmat):
    split = {"source": "test", "train": ["00", "01"], "valid": ["02"], "test": ["99"]}
    with pytest.raises(ValueError, match="99.*no window"):
        list(make_splitter("fixed_split", split=split).split(eegmat.meta))
    with pytest.raises(ValueError, match="both 'train' and 'test'"):
        make_splitter("fixed_split", split={**split, "test": ["00"]})


def test_every_published_figure_cites_a_source():
    assert all(e["source"] and e["metric"] for e in load_published())


def test_split_by_another_column_with_a_drawn_validation_share():
    """``key`` names the column of the lists; ``valid_fraction`` draws training subjects."""
    import pandas as pd

    meta = pd.DataFrame({"subject": [f"s{i // 4}" for i in range(40)],
                         "train": [i < 32 for i in range(40)]})
    split = {"source": "published", "key": "train", "train": [True], "valid_fraction": 0.25,
             "test": [False]}
    (fold,) = make_splitter("fixed_split", split=split).split(meta)
    assert set(fold.test) == set(range(32, 40))
    valid_subjects = set(meta["subject"].iloc[fold.valid])
    assert len(valid_subjects) == 2 and not valid_subjects & set(meta["subject"].iloc[fold.train])
    assert sorted([*fold.train, *fold.valid]) == list(range(32))
    (again,) = make_splitter("fixed_split", split=split, seed=5).split(meta)
    assert np.array_equal(again.valid, fold.valid)  # the published draw, not the run's seed
    with pytest.raises(ValueError, match="exactly one of 'valid'"):
        make_splitter("fixed_split", split={**split, "valid": [True]})
    with pytest.raises(ValueError, match="'session' is not a column"):
        list(make_splitter("fixed_split", split={**split, "key": "session"}).split(meta))
