"""Every config composes, from the checkout and from an installed (non-editable) wheel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from eegbench.resources import config_dir

CONF = config_dir()
EXPERIMENTS = sorted(p.stem for p in (CONF / "exp").glob("*.yaml"))
GROUPS = ["dataset", "model", "protocol", "preprocess", "trainer"]


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


@pytest.mark.parametrize("exp", EXPERIMENTS)
def test_every_experiment_composes(exp):
    cfg = _compose([f"+exp={exp}"])
    # resolve everything except hydra's runtime-only fields
    container = OmegaConf.to_container(cfg, resolve=False)
    assert container["dataset"]["name"]
    assert cfg.protocol.name


@pytest.mark.parametrize("group", GROUPS)
def test_every_group_option_composes(group):
    options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
    assert options, f"config group {group} is empty"
    for option in options:
        cfg = _compose([f"{group}={option}"])
        section = OmegaConf.to_container(cfg[group], resolve=True)
        assert isinstance(section, dict) and section


def test_loso_experiment_sweeps_models_and_sets_protocol():
    cfg = _compose(["+exp=loso"])
    assert cfg.protocol.name == "loso"
    assert cfg.hydra.mode.name == "MULTIRUN"
    assert set(cfg.hydra.sweeper.params.model.split(",")) >= {"ts_lr", "eegnet"}


def test_every_model_config_names_a_registered_model():
    from eegbench.models.base import load_builtin_models

    MODELS = load_builtin_models()
    for path in (CONF / "model").glob("*.yaml"):
        cfg = OmegaConf.load(path)
        if path.stem == "plugin":  # the template for models without a yaml of their own
            assert OmegaConf.is_missing(cfg, "name")
            continue
        assert cfg.name in MODELS, f"{path.name}: model {cfg.name!r} is not registered"


def test_cli_prints_composed_config_with_overrides():
    out = subprocess.run(
        [sys.executable, "-m", "eegbench", "+exp=loso", "model=eegnet", "--cfg", "job"],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    ).stdout
    cfg = OmegaConf.create(out)
    assert cfg.model.name == "eegnet" and cfg.protocol.name == "loso"


def test_config_ships_in_the_wheel(tmp_path):
    """`--cfg job` works from a non-editable install outside the checkout."""
    repo = Path(__file__).resolve().parents[2]
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheel_dir), str(repo)], check=True, capture_output=True)
    wheel = next(wheel_dir.glob("eegbench-*.whl"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    result = subprocess.run([sys.executable, "-m", "eegbench", "+exp=loso", "--cfg", "job"],
                            capture_output=True, text=True, env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    probe = subprocess.run([sys.executable, "-c", "import eegbench.resources as r; "
                            "print(r.config_dir()); print(r.recipes_dir())"],
                           capture_output=True, text=True, env=env, cwd=workdir, check=True)
    assert str(target) in probe.stdout.splitlines()[0]
    assert str(target) in probe.stdout.splitlines()[1]
    assert OmegaConf.create(result.stdout).protocol.name == "loso"
