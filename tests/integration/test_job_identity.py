"""A row's config hash is the one it had before the evaluation package was split.

The three jobs of ``+exp=loso`` (the main job), a subject subset, an alignment option and a
leakage audit (whose clean rows keep the protocol's hash): hashes computed with the code of
release commit e7597eb, where ``eegbench/evaluation/job.py`` read the Hydra config itself.
"""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir

from eegbench.cli.spec import job_from_config
from eegbench.evaluation.identity import identity_hash
from eegbench.resources import config_dir

#: (overrides, config hash on e7597eb; cbramod_probe's changed since with its recipe, which now
#: follows the authors' (one-logit head, selection by validation ROC AUC, conf/model/cbramod.yaml))
BEFORE = [
    (["+exp=loso", "model=cbramod_probe", "fold_shard=[0,2]"], "7f3f2493df8dadda"),
    (["+exp=loso", "model=eegnet", "fold_shard=[0,2]"], "ea9ef6e152d2ef79"),
    (["+exp=loso", "model=ts_lr", "fold_shard=[1,2]"], "38480d0f2b31b562"),
    (["model=ts_lr", "dataset.subjects=[0,1,2]"], "5eaf29e5709051c9"),
    (["model=eegnet", "trainer=fast", "protocol.align=euclidean"], "8c62690aad42fc42"),
    (["model=ts_lr", "+audit=leakage"], "38480d0f2b31b562"),
]


@pytest.mark.parametrize(("overrides", "expected"), BEFORE,
                         ids=[" ".join(o) for o, _ in BEFORE])
def test_config_hash_unchanged_by_the_typed_job(overrides, expected):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    assert identity_hash(job_from_config(cfg)) == expected
