"""Scale of CBraMod's head input, pretrained vs random init, on real eegmat windows.

Usage: ``python benchmarks/token_statistics.py CHECKPOINT [N_WINDOWS]`` (the leaderboard
README's figures: the suite's ``pretrain_pooled`` checkpoint, 64 windows). Prints, for the
encoder loaded from ``CHECKPOINT`` and for the same architecture from random init (seed 0),
the standard deviation of the fine-tuning head's input (all flattened patch tokens), its mean
absolute value and the median over features of the standard deviation across windows: the
part of the tokens that differs between windows, which a head must amplify to classify them.
Reads ``$EEGBENCH_DATA_ROOT`` (default ../shared/data).
"""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
import torch
from hydra import compose, initialize_config_dir

from eegbench.cli.spec import job_from_config
from eegbench.evaluation.plan import load_dataset, model_builder
from eegbench.models.base import SignalSpec
from eegbench.resources import config_dir

logger = logging.getLogger("token_statistics")


def head_input(checkpoint: str, init: str, n_windows: int) -> torch.Tensor:
    """Return the fine-tuning head's input for the first ``n_windows`` eegmat windows."""
    data_root = os.environ.get("EEGBENCH_DATA_ROOT", "../shared/data")
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=[
            "model=cbramod", "model.adaptation=finetune", f"model.params.checkpoint={checkpoint}",
            f"model.params.init={init}", f"paths.data_root={data_root}"])
    cfg = job_from_config(cfg)
    ds = load_dataset(cfg)
    model = model_builder(cfg)()
    torch.manual_seed(0)
    module = model.build(SignalSpec.from_info(ds.info, ds.X.shape[-1])).eval()
    with torch.no_grad():
        return module.forward_features(torch.as_tensor(np.asarray(ds.X[:n_windows]),
                                                       dtype=torch.float32))


def main(checkpoint: str, n_windows: int = 64) -> None:
    """Log the head-input statistics of the pretrained and the random-init encoder."""
    torch.set_num_threads(1)
    for init in ("pretrained", "random"):
        f = head_input(checkpoint, init, n_windows)
        logger.info("%-10s head input SD %.4f | mean |x| %.4f | median per-feature SD across "
                    "windows %.4f", init, f.std().item(), f.abs().mean().item(),
                    f.std(0).median().item())


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("eegbench").setLevel(logging.WARNING)
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 64)
