"""Studies the field asks for, each one command: pretraining objectives, scale, patch embeddings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eegbench.config import Job, as_job


def run_study(job: Job | Mapping[str, Any]) -> object:
    """Run the study named by ``study.kind`` (``objective`` or ``scale``).

    ``job``: the validated study job, or a configuration mapping validated here.
    """
    job = as_job(job, "study")
    kind = job.spec.study.kind
    if kind == "objective":
        from eegbench.studies.objective_study import run_objective_study

        return run_objective_study(job)
    if kind == "scale":
        from eegbench.studies.scale_study import run_scale_study

        return run_scale_study(job)
    raise ValueError(f"Invalid value for the 'study.kind' parameter. Allowed values are "
                     f"['objective', 'scale'], but got {kind!r}.")
