"""Command line: ``python -m eegbench +exp=loso`` (the only Hydra-aware module)."""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from eegbench.resources import config_dir


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _hydra_entry(cfg: DictConfig) -> None:
    logging.getLogger("eegbench").setLevel(cfg.get("log_level", "INFO"))
    from eegbench.run import run_experiment

    run_experiment(cfg)


def main() -> None:
    """Console-script entry point."""
    _hydra_entry()


if __name__ == "__main__":
    main()
