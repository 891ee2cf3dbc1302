"""Studies the field asks for, each one command: pretraining objectives, scale, patch embeddings."""

from __future__ import annotations

from omegaconf import DictConfig


def run_study(cfg: DictConfig) -> object:
    """Run the study named by ``cfg.study.kind`` (``objective`` or ``scale``)."""
    kind = str(cfg.study.get("kind"))
    if kind == "objective":
        from eegbench.studies.objective_study import run_objective_study

        return run_objective_study(cfg)
    if kind == "scale":
        from eegbench.studies.scale_study import run_scale_study

        return run_scale_study(cfg)
    raise ValueError(f"Invalid value for the 'study.kind' parameter. Allowed values are "
                     f"['objective', 'scale'], but got {kind!r}.")
