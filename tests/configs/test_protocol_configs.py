"""Every protocol config composes and builds its splitter; the few-shot experiment sweeps models."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from eegbench.adaptation.calibration import CalibrationSpec
from eegbench.protocols.alignment import AlignmentSpec
from eegbench.protocols.splitters import make_splitter
from eegbench.resources import config_dir


def _compose(overrides, return_hydra_config=False):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=overrides, return_hydra_config=return_hydra_config)


PROTOCOLS = sorted(p.stem for p in (config_dir() / "protocol").glob("*.yaml"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_protocol_config_builds_its_splitter(protocol):
    cfg = OmegaConf.to_container(_compose([f"protocol={protocol}"]).protocol, resolve=True)
    name = cfg.pop("name")
    CalibrationSpec.from_config(cfg.pop("calibrate", None))
    AlignmentSpec.pop_from(cfg)  # run-level options (label-free alignment), not the splitter's
    splitter = make_splitter(name, seed=0, **cfg)
    assert splitter.name == name == protocol


def test_fewshot_experiment_sweeps_models_with_the_fewshot_protocol():
    cfg = _compose(["+exp=fewshot"], return_hydra_config=True)
    assert cfg.protocol.name == "fewshot" and list(cfg.protocol.shots) == [1, 5, 10]
    assert cfg.protocol.mode == "cross_subject_then_calibrate"
    assert cfg.hydra.mode.name == "MULTIRUN"
    assert cfg.hydra.sweeper.params.model == "ts_lr,eegnet"
