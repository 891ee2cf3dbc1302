"""The leakage audit (``+audit=leakage``): leaky variants of the configured protocol.

Each variant reuses the protocol's folds (:mod:`eegbench.protocols.audit`); its rows have
protocol ``<name>~leaky:<variant>`` (or ``~clean:``), a config hash that includes the variant,
and ``fit_report`` entries naming the clean rows they pair with.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from eegbench.config import Job
from eegbench.data.cache import WindowsDataset
from eegbench.evaluation.fold import fit_and_score
from eegbench.evaluation.identity import identity_hash, row_key_of
from eegbench.evaluation.plan import ProtocolPlan, model_builder, split_meta
from eegbench.protocols.audit import expand, variant_fold, variant_windows
from eegbench.results.store import ResultStore

logger = logging.getLogger(__name__)


def run_audit(job: Job, ds: WindowsDataset, store: ResultStore, plan: ProtocolPlan,
              chash: str, fingerprints: dict[str, Any]) -> int:
    """Run the leakage-audit variants of the configured protocol; return the new rows' count.

    ``ds`` are the protocol's windows (aligned where the protocol aligns), ``chash`` the clean
    protocol's config hash and ``fingerprints`` the job's (:func:`row_fingerprints`).
    """
    audit = job.spec.audit
    if audit is None:
        return 0
    name, model_name = plan.name, job.spec.model.name
    is_deep = hasattr(model_builder(job)(), "module")
    n_new = 0
    for variant in expand(list(audit.variants)):
        if variant.deep_only and not is_deep:
            logger.info("leakage audit: %s skipped for %s (no validation data used by classical "
                        "models, so the leak cannot act)", variant.name, model_name)
            continue
        vhash = identity_hash(job, audit_variant=variant.name)
        label = f"{name}{variant.label}"
        pair = variant.clean_pair
        clean_hash = identity_hash(job, audit_variant=pair) if pair else chash
        clean_protocol = f"{name}~clean:{pair}" if pair else name
        for seed in job.spec.seeds:
            meta = split_meta(ds)
            folds = plan.folds(int(seed))
            for i, clean_fold in enumerate(folds):
                fold = variant_fold(variant, clean_fold, meta, int(seed), i, audit.n_folds)
                if store.has(row_key_of(job, fold, seed, vhash, fingerprints, protocol=label)):
                    continue
                vds = WindowsDataset(variant_windows(variant, ds.X, fold), ds.meta, ds.info)
                row, _ = fit_and_score(job, vds, fold, int(seed), vhash, plan.calibration)
                report = {**(row.fit_report or {}), "audit_variant": variant.name,
                          "clean_config_hash": clean_hash, "clean_protocol": clean_protocol}
                config = {**(row.config or {}), "audit": variant.name}
                store.write(dataclasses.replace(row, protocol=label, fit_report=report,
                                                config=config, **fingerprints))
                n_new += 1
                logger.info("[%s audit %s seed %s] fold %s: balanced_accuracy %.3f",
                            model_name, variant.name, seed, fold.name,
                            row.metrics["balanced_accuracy"])
    return n_new
