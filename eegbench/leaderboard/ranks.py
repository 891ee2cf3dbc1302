"""The mean rank across datasets: configurations (table lines), never models averaged.

A configuration is a line of the tables: model, adaptation, calibration and settings. The
same settings evaluated on several datasets have one config hash per dataset (the hash
includes the dataset) and one ``config_key`` (:func:`configuration_keys`); two settings of one
model on one dataset (e.g. a 4-subject run beside the full one) are two configurations, each
ranked on its own, so a quick experiment never moves the rank of the main configuration.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from eegbench.leaderboard.escape import md_table
from eegbench.leaderboard.stats import rank_aggregate
from eegbench.leaderboard.tables import (
    CONFIG_LABEL_COLUMNS,
    SETTING_EXECUTION_KEYS,
    SETTING_HIDDEN_KEYS,
    flatten_config,
    setting_label,
)
from eegbench.results.provenance import config_hash

#: Configuration identity across datasets: ``config_key`` hashes the stored config without
#: the keys that name the dataset (:func:`configuration_keys`).
RANK_CONFIG_COLUMNS = [*CONFIG_LABEL_COLUMNS, "config_key"]
#: Keys of a stored ``dataset`` section that name the dataset rather than a setting, left out
#: of a configuration's identity across datasets (``dataset.subjects`` stays: a subset of the
#: subjects is another configuration).
DATASET_NAMING_KEYS = ("name", "recipe", "task", "moabb", "hub", "fixed_split")


def _across_datasets(config: dict[str, Any]) -> dict[str, Any]:
    """A stored config without what names its dataset or only changes where it ran."""
    body = {k: v for k, v in config.items() if k != "dataset"}
    dataset = config.get("dataset")
    if isinstance(dataset, dict):
        body["dataset"] = {k: v for k, v in dataset.items() if k not in DATASET_NAMING_KEYS}
    if isinstance(body.get("trainer"), dict):
        execution = {k.split(".", 1)[1] for k in SETTING_EXECUTION_KEYS}
        body["trainer"] = {k: v for k, v in body["trainer"].items() if k not in execution}
    return body


def configuration_keys(frame: pd.DataFrame) -> dict[str, str]:
    """Map each config hash to its configuration's identity across datasets (``config_key``).

    The same settings evaluated on two datasets have two config hashes (the hash includes the
    dataset) and one key; two settings of one model on one dataset (two lines of a table) have
    two keys. Rows without a stored config (schema < 3) are their own configuration.
    """
    hashes = frame["config_hash"].astype(str)
    if "config" not in frame:
        return {h: h for h in hashes.unique()}
    configs = frame.assign(config_hash=hashes).groupby("config_hash")["config"].first()
    return {h: config_hash(_across_datasets(c)) if isinstance(c, dict) else h
            for h, c in configs.items()}


def configuration_labels(frame: pd.DataFrame) -> dict[str, str]:
    """Label each ``config_key`` by the settings that tell it apart from the same model's others.

    Within a protocol and shots, configurations of one model, adaptation and calibration get
    the ``key=value`` pairs in which their configs differ (as :func:`config_settings` labels
    the lines of one table); a configuration alone gets no label.
    """
    if "config" not in frame:
        return {}
    keys = configuration_keys(frame)
    rows = frame[frame["config"].map(lambda c: isinstance(c, dict))]
    labels: dict[str, str] = {}
    for _, block in rows.groupby(["protocol", "shots", "model", "adaptation", "calibration"],
                                 sort=False):
        flat = {keys[str(h)]: flatten_config(_across_datasets(c))
                for h, c in block.groupby("config_hash")["config"].first().items()}
        if len(flat) < 2:
            continue
        varying = sorted(k for k in {k for f in flat.values() for k in f}
                         - set(SETTING_HIDDEN_KEYS)
                         if len({repr(f.get(k)) for f in flat.values()}) > 1)
        labels.update({key: setting_label(f, varying) for key, f in flat.items()})
    return labels


#: Caption of the rank table (Markdown and HTML).
RANKS_CAPTION = ("Each configuration (a line of the tables above: model, adaptation, "
                 "calibration and settings; the same settings on several datasets are one "
                 "configuration) is ranked within each table by the table's primary metric "
                 "(1 = best, ties share the mean rank), among the rows that use the test "
                 "subject's data the same way ('uses test data': inductive rows among "
                 "inductive rows); its ranks are averaged over the tables it appears in. "
                 "Two settings of one model are two configurations, never averaged into one "
                 "model rank.")


def aggregate_ranks(summary: pd.DataFrame, frame: pd.DataFrame | None = None,
                    metric: str | None = None) -> pd.DataFrame:
    """Mean rank of each configuration across datasets, per protocol and shots.

    A configuration is a line of the tables, not a model: two settings of one model are
    ranked separately. ``frame`` (the rows the summary was made from) gives each line its
    ``config_key`` (:func:`configuration_keys`: the same settings on several datasets are one
    configuration) and the ``setting`` that tells a model's configurations apart; without it
    every config hash is its own configuration. ``metric`` None ranks each table by its
    primary metric (``primary_mean``). Inductive and transductive rows (``test_data``) are
    ranked apart, as the tables test them.
    """
    value = "primary_mean" if metric is None or "primary_mean" in summary else f"{metric}_mean"
    keys = configuration_keys(frame) if frame is not None else {}
    labels = configuration_labels(frame) if frame is not None else {}
    summary = summary.assign(config_key=[keys.get(str(h), str(h))
                                         for h in summary["config_hash"]])
    if "test_data" not in summary:
        summary = summary.assign(test_data="none")
    ranks = rank_aggregate(summary, ["protocol", "shots", "test_data"], RANK_CONFIG_COLUMNS,
                           value)
    return ranks.assign(setting=ranks["config_key"].map(labels).fillna(""))


def rank_rows(ranks: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and cells of the rank table (a ``setting`` column when one is needed)."""
    with_setting = "setting" in ranks and (ranks["setting"] != "").any()
    header = ["protocol", "shots", "uses test data", "model", "adaptation", "calibration"]
    header += (["setting"] if with_setting else []) + ["mean rank", "datasets"]
    rows = [[r["protocol"], str(r["shots"]), r["test_data"], r["model"], r["adaptation"],
             r["calibration"],
             *([r["setting"]] if with_setting else []),
             f"{r['mean_rank']:.2f}", f"{r['n_datasets']} ({r['datasets']})"]
            for _, r in ranks.iterrows()]
    return header, rows


def ranks_to_markdown(ranks: pd.DataFrame) -> str:
    """Render the rank aggregation as one Markdown table."""
    return "\n".join(md_table(*rank_rows(ranks))) + "\n"
