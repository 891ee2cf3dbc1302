"""Command line: ``python -m eegbench +exp=loso`` (the only Hydra-aware module)."""

from __future__ import annotations

import logging

import hydra
from omegaconf import DictConfig

from eegbench.resources import config_dir


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _hydra_entry(cfg: DictConfig) -> None:
    logging.getLogger("eegbench").setLevel(cfg.get("log_level", "INFO"))
    if cfg.get("pretrain") is not None:  # +exp=pretrain
        from eegbench.pretrain import run_pretraining

        run_pretraining(cfg)
        return
    from eegbench.run import run_experiment

    run_experiment(cfg)


def main() -> None:
    """Console-script entry point."""
    import sys

    from eegbench.plugins import searchpath_override

    sys.argv = searchpath_override(sys.argv)
    _hydra_entry()


if __name__ == "__main__":
    main()
