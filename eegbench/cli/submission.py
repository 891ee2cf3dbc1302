"""``eegbench submission``: run a model on the official configurations, or verify a bundle.

The Hydra side of :mod:`eegbench.submission.bundle`: composing a configuration from a bundle's
overrides (:func:`compose_job`) and the allow-list of those overrides
(:func:`eegbench.cli.overrides.check_overrides`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from eegbench.cli.overrides import check_overrides
from eegbench.cli.spec import job_from_config
from eegbench.config import Job
from eegbench.leaderboard.suite_spec import SuiteError
from eegbench.plugins import plugin_search_paths
from eegbench.resources import config_dir
from eegbench.submission import bundle

logger = logging.getLogger(__name__)


def compose_config(overrides: list[str]) -> DictConfig:
    """Compose eegbench's configuration (plugin config folders included) with ``overrides``."""
    paths = plugin_search_paths()
    extra = [f"hydra.searchpath=[{','.join(paths)}]"] if paths else []
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose("config", overrides=[*overrides, *extra])


def compose_job(overrides: list[str]) -> Job:
    """Compose the configuration with ``overrides``; return it validated as an evaluation job.

    Every key is checked and the subject ids normalised (:func:`job_from_config`).
    """
    return job_from_config(compose_config(overrides), "run")


def main(argv: list[str] | None = None) -> int:
    """Command line: ``run`` a submission or ``verify`` a bundle."""
    parser = argparse.ArgumentParser(prog="eegbench submission",
                                     description=bundle.__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a model on the official configurations")
    run.add_argument("--model", required=True, help="registered model name")
    run.add_argument("--out", type=Path, required=True, help="bundle folder")
    run.add_argument("--official", type=Path, default=bundle.OFFICIAL,
                     help="configurations file (default: the shipped official one)")
    run.add_argument("--suite", default=None, metavar="NAME",
                     help="run every local cell of suite NAME (conf/suite/NAME.yaml) instead "
                          "of the official configurations; the rows record the suite")
    run.add_argument("overrides", nargs="*", help="extra Hydra overrides (recorded)")
    ver = sub.add_parser("verify", help="re-run a random sample of a bundle's folds")
    ver.add_argument("bundle", type=Path)
    ver.add_argument("--folds", type=int, default=2, help="folds to re-run (default 2)")
    ver.add_argument("--tolerance", type=float, default=0.02,
                     help="largest accepted absolute metric difference (default 0.02)")
    ver.add_argument("--seed", type=int, default=None,
                     help="seed of the fold sample (default: drawn from the operating "
                          "system's randomness and printed; give it to repeat a draw)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "run" and args.suite:
            bundle.run_submission(args.model, args.out, args.overrides,
                                  bundle.suite_configurations(args.suite),
                                  bundle.suite_file(args.suite), compose=compose_job,
                                  check=check_overrides)
        elif args.command == "run":
            bundle.run_submission(args.model, args.out, args.overrides,
                                  bundle.official_configurations(args.official),
                                  args.official, compose=compose_job, check=check_overrides)
        else:
            bundle.verify_submission(args.bundle, args.folds, args.tolerance, args.seed,
                                     compose=compose_job, check=check_overrides)
    except (bundle.SubmissionError, SuiteError) as err:
        logger.error("%s", err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
