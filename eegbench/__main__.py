"""Command line: ``python -m eegbench +exp=loso`` (the only Hydra-aware module)."""

from __future__ import annotations

import logging
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from eegbench.resources import config_dir

logger = logging.getLogger("eegbench")


@hydra.main(config_path=str(config_dir()), config_name="config", version_base="1.3")
def _hydra_entry(cfg: DictConfig) -> list | None:
    logging.getLogger("eegbench").setLevel(cfg.get("log_level", "INFO"))
    if cfg.get("study") is not None:  # +exp=objective_study
        from eegbench.studies import run_study

        run_study(cfg)
        return
    if cfg.get("pretrain") is not None:  # +exp=pretrain
        from eegbench.pretrain import run_pretraining

        run_pretraining(cfg)
        return
    from eegbench.results.failures import clear_failure, record_failure
    from eegbench.run import identity_hash, run_experiment

    hydra_cfg = HydraConfig.get()
    try:
        chash = identity_hash(cfg)
        rows = run_experiment(cfg)
    except Exception as err:
        overrides = list(hydra_cfg.overrides.task)
        path = record_failure(cfg.paths.results_dir, identity_hash(cfg), overrides,
                              OmegaConf.to_container(cfg, resolve=False), err,
                              seeds=list(cfg.seeds))
        logger.error("job failed (%s: %s); failure recorded in %s", type(err).__name__, err,
                     path)
        if hydra_cfg.mode != RunMode.MULTIRUN:
            raise
        # In a sweep, the other jobs go on; the failure stays on record.
        return None
    clear_failure(cfg.paths.results_dir, chash, seeds=list(cfg.seeds))
    logger.info("done. Build the tables with: python -m eegbench.leaderboard --results %s",
                cfg.paths.results_dir)
    return rows  # the job's rows, for sweep callbacks (eegbench.suite)


def main() -> None:
    """Console-script entry point."""
    import sys

    from eegbench.plugins import searchpath_override

    sys.argv = searchpath_override(sys.argv)
    _hydra_entry()


if __name__ == "__main__":
    sys.exit(main())
