"""Every MOABB dataset by name: the catalogue (no download) and ``dataset=moabb/<ClassName>``."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from eegbench.cli.spec import check_config
from eegbench.data.bridges.moabb_catalog import (
    format_catalog,
    moabb_catalog,
    moabb_dataset_overrides,
)
from eegbench.resources import config_dir


@pytest.fixture(scope="module")
def catalog():
    return {e["dataset"]: e for e in moabb_catalog()}


def test_catalogue_reads_class_attributes(catalog):
    from moabb.datasets import BNCI2014_001, Kalunga2016
    from moabb.datasets.utils import dataset_list

    assert len(catalog) == len(dataset_list)
    mi = catalog["BNCI2014_001"]
    ds = BNCI2014_001()
    assert (mi["paradigm"], mi["subjects"], mi["sessions"]) == (
        "imagery", len(ds.subject_list), ds.n_sessions)
    assert catalog["Kalunga2016"]["default"] == "SSVEP"
    assert catalog["Kalunga2016"]["subjects"] == len(Kalunga2016().subject_list)
    text = format_catalog(list(catalog.values()))
    assert text.splitlines()[0].split() == ["dataset", "paradigm", "default", "subjects",
                                            "sessions", "note"]
    assert any(line.startswith("BNCI2014_001 ") for line in text.splitlines())


def test_moabb_name_becomes_a_valid_job():
    overrides = moabb_dataset_overrides("dataset=moabb/BNCI2014_009")
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides + ["model=xdawn_ts_lr"])
    spec = check_config(cfg, "run")
    assert spec.dataset.name == "moabb_bnci2014_009"
    assert (cfg.dataset.moabb.dataset, cfg.dataset.moabb.paradigm) == ("BNCI2014_009", "P300")
    assert moabb_dataset_overrides("model=ts_lr") == ["model=ts_lr"]
    with pytest.raises(ValueError, match="Allowed values are moabb/<name>"):
        moabb_dataset_overrides("dataset=moabb/NoSuchDataset")
