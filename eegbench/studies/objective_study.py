"""Which self-supervised objective transfers best: ``eegbench study +exp=objective_study``.

For the target dataset (``dataset=...``), every objective in ``study.objectives`` pretrains the
same encoder on the same leave-one-dataset-out corpus (every other dataset of the target's
modality; :mod:`eegbench.pretraining.corpus` checks by sha256 that no target recording is in
it), saving the encoder at each of ``study.steps`` (step 0 is the random initialisation, the
no-pretraining reference). Each saved encoder is then evaluated on the target under the
configured protocol (leave-one-subject-out by default) with every adaptation in
``study.adaptations`` (the frozen-encoder linear probe and fine-tuning with the configured,
fixed trainer budget). Rows go to the normal results store (resumable: finished folds and
finished pretraining runs are skipped), and a summary table plus a probe-score-vs-steps plot
(one curve per objective) are written to ``study.output_dir``.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eegbench.config import Job, as_job
from eegbench.pretraining.corpus import assert_target_not_in_corpus, leave_one_dataset_out
from eegbench.pretraining.job import (
    milestone_path,
    pool_cache_keys,
    pretraining_fingerprint,
    run_pretraining,
)
from eegbench.studies.report import plot_steps

logger = logging.getLogger(__name__)


#: A study job, or a configuration mapping validated as one (:func:`eegbench.config.as_job`).
StudyJob = Job | Mapping[str, Any]


def study_corpus(job: StudyJob) -> list[dict[str, Any]]:
    """Return the pretraining corpus: ``study.corpus`` or leave-one-dataset-out, audited."""
    job = as_job(job, "study")
    target = str(job.spec.dataset.recipe)
    explicit = job.spec.study.corpus
    corpus = ([{"recipe": str(name), "subjects": None} for name in explicit] if explicit
              else leave_one_dataset_out(target))
    assert_target_not_in_corpus(corpus, target, Path(job.spec.paths.data_root))
    return corpus


def study_min_patches(job: StudyJob) -> int:
    """Fewest patches per window any studied objective needs (``study.objectives``).

    Every variant of a study pretrains on the same pool, so a dataset too short for one
    objective (1 s windows for next-patch prediction) is left out for all of them. The scale
    study trains one objective (``study.objective``); ``study.min_patches`` overrides both.
    """
    from eegbench.pretraining.objectives import OBJECTIVES

    study = as_job(job, "study").spec.study
    if study.min_patches:
        return int(study.min_patches)
    objectives = ([study.objective] if study.kind == "scale"
                  else study.objectives or ["masked_patch"])
    return max(OBJECTIVES[str(o)].min_patches for o in objectives)


def _pretrain_config(job: StudyJob, variant: StudyVariant, corpus: list[dict[str, Any]],
                     output: Path) -> dict[str, Any]:
    """Return the resolved configuration of the variant's pretraining run (plain values)."""
    job = as_job(job, "study")
    study = job.spec.study
    pre = copy.deepcopy(job.resolved)
    pretrain = pre["pretrain"]
    pretrain["objective"] = variant.objective
    pretrain["arch_params"] = {**(pretrain.get("arch_params") or {}), **variant.arch_params}
    pretrain["datasets"] = corpus
    pretrain["min_patches"] = study_min_patches(job)
    pretrain["save_at_steps"] = [int(s) for s in study.steps]
    pretrain["max_steps"] = max(int(s) for s in study.steps)
    pretrain["max_minutes"] = float(study.max_minutes_per_objective)
    pretrain["output"] = str(output)
    return pre


def _evaluation_job(job: Job, checkpoint: Path, adaptation: str) -> Job:
    """Return the evaluation job of an encoder: the study's configuration, that checkpoint."""
    ev = {k: copy.deepcopy(v) for k, v in job.resolved.items() if k not in ("pretrain", "study")}
    ev["experiment"] = {**(ev.get("experiment") or {}), "command": "run"}
    model = ev["model"]
    model["adaptation"] = adaptation
    model["params"] = {**(model.get("params") or {}), "checkpoint": str(checkpoint),
                       "checkpoint_sha256": json.loads(
                           Path(f"{checkpoint}.json").read_text())["sha256"]}
    return as_job(ev, "run")


def _milestone_current(path: Path, fingerprint: str, keys: dict[str, str]) -> bool:
    """True when the encoder at ``path`` was pretrained with these settings on this data.

    ``fingerprint``: :func:`eegbench.pretraining.job.pretraining_fingerprint` of the wanted run
    (objective, architecture, corpus, optimiser, seed, preprocessing); ``keys``: the corpus
    datasets' cache keys (:func:`eegbench.pretraining.job.pool_cache_keys`), which follow the
    recordings' content.
    """
    if not (path.is_file() and Path(f"{path}.json").is_file()):
        return False
    meta = json.loads(Path(f"{path}.json").read_text())
    recorded = {d["recipe"]: d.get("cache_key") for d in meta.get("datasets", [])}
    current = (meta.get("pretrain_fingerprint") == fingerprint
               and set(recorded) | set(meta.get("datasets_left_out", [])) == set(keys)
               and all(keys[recipe] == key for recipe, key in recorded.items()))
    if not current:
        logger.info("%s was pretrained with other settings or data", path)
    return current


def _pretrained(output: Path, steps: list[int], fingerprint: str, keys: dict[str, str]
                ) -> bool:
    """True when a previous run left every milestone of this pretraining run (resume).

    A milestone counts only if :func:`_milestone_current`; otherwise the encoders are
    pretrained again.
    """
    return all(_milestone_current(milestone_path(output, s), fingerprint, keys) for s in steps)


@dataclass(frozen=True)
class StudyVariant:
    """One pretrained encoder of a study: a label, an objective and architecture overrides."""

    label: str
    objective: str
    arch_params: dict[str, Any] = field(default_factory=dict)


def run_objective_study(job: StudyJob) -> pd.DataFrame:
    """Pretrain every objective of ``study.objectives``; see :func:`run_transfer_study`."""
    job = as_job(job, "study")
    spec = job.spec
    variants = [StudyVariant(str(o), str(o)) for o in spec.study.objectives]
    table = run_transfer_study(job, variants)
    if table.empty:
        logger.warning("objective study on %s: no encoder was evaluated", spec.dataset.name)
        return table
    out_dir = Path(spec.study.output_dir) / str(spec.dataset.name)
    plot_steps(table.rename(columns={"variant": "label",
                                     "balanced_accuracy_std": "balanced_accuracy_sd"}),
               out_dir / "probe_vs_steps.png", str(spec.dataset.name))
    table = table.drop(columns=["variant"])
    table.to_csv(out_dir / "objective_study.csv", index=False, float_format="%.4f")
    return table


def run_transfer_study(job: StudyJob, variants: list[StudyVariant]) -> pd.DataFrame:
    """Pretrain every variant, evaluate every milestone under the configured protocol.

    Returns
    -------
    DataFrame
        One row per (variant, step, adaptation): mean and std over folds of the balanced
        accuracy and ROC AUC, folds, encoder parameters, mean training seconds per fold and
        the checkpoint's sha256.
    """
    from eegbench.evaluation.job import run_experiment

    job = as_job(job, "study")
    study, dataset_name = job.spec.study, str(job.spec.dataset.name)
    out_dir = Path(study.output_dir) / dataset_name
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = study_corpus(job)
    steps = sorted({int(s) for s in study.steps})
    records = []
    for variant in variants:
        output = out_dir / f"{variant.label}.pt"
        pre = _pretrain_config(job, variant, corpus, output)
        # the corpus files are hashed once per variant, for the resume check and the milestones
        fingerprint, keys = pretraining_fingerprint(pre), pool_cache_keys(pre)
        if _pretrained(output, steps, fingerprint, keys):
            logger.info("%s: encoders already pretrained in %s", variant.label, out_dir)
        elif study.reuse_only:
            logger.warning("%s: study.reuse_only: not pretraining; evaluating the encoders of "
                           "these settings present in %s", variant.label, out_dir)
        else:
            run_pretraining(pre)
        for step in steps:
            checkpoint = milestone_path(output, step)
            if not _milestone_current(checkpoint, fingerprint, keys):
                # the time budget ended before this step (or, under reuse_only, never ran)
                logger.warning("%s: no current encoder at step %d", variant.label, step)
                continue
            meta = json.loads(Path(f"{checkpoint}.json").read_text())
            for adaptation in study.adaptations:
                rows = run_experiment(_evaluation_job(job, checkpoint, str(adaptation)))
                ba = np.array([r["metric.balanced_accuracy"] for r in rows], dtype=float)
                auc = np.array([r.get("metric.roc_auc", np.nan) for r in rows], dtype=float)
                records.append({"variant": variant.label, "objective": variant.objective,
                                "step": step,
                                "adaptation": str(adaptation), "folds": len(rows),
                                "balanced_accuracy": float(np.nanmean(ba)),
                                "balanced_accuracy_std": float(np.nanstd(ba, ddof=1))
                                if len(ba) > 1 else float("nan"),
                                "roc_auc": float(np.nanmean(auc)),
                                "n_parameters": int(np.median([r["n_parameters"]
                                                               for r in rows])),
                                "train_seconds": float(np.mean([r["train_seconds"]
                                                                for r in rows])),
                                "pretrain_seconds": meta.get("seconds"),
                                "pretrain_loss_last": meta.get("loss_last"),
                                "checkpoint_sha256": meta["sha256"]})
    table = pd.DataFrame.from_records(records)
    logger.info("study on %s:\n%s", dataset_name, table.to_string(index=False))
    return table
