"""The result row: one per dataset x model x protocol x fold x seed (schema is versioned)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

#: Version history
#: 1 -- first release.
#: 2 -- few-shot and cross-session rows: ``draw`` (repeated calibration draw), ``calibration``
#:      (few-shot mode), ``n_calib`` (calibration windows from the test subject, counted
#:      separately from ``n_train``), ``train_sessions`` / ``test_sessions``; rows of
#:      version 1 are read with these fields empty.
#: 3 -- ``config``: the resolved configuration sections that ``config_hash`` hashes.
#: 4 -- adaptation and honesty fields: ``budget`` (the optimisation budget actually used),
#:      ``n_trainable``, ``predicted_class_counts`` and ``collapsed`` (a fold whose model
#:      predicts one class), ``hp_source`` (how the hyperparameters were decided),
#:      ``predictions`` (test labels and scores, for tests against chance),
#:      ``data_fingerprint`` and ``code_fingerprint`` (what the result was computed from).
#:      ``data_fingerprint``, ``code_fingerprint`` and ``checkpoint`` (the checkpoint's
#:      ``sha256:<hex>``) are part of the key (:mod:`eegbench.evaluation.identity`);
#:      ``data_quality`` summarizes the signal-quality reports of the dataset's files.
#:      ``weights`` (added within version 4, None when absent): the provenance of the
#:      checkpoint (source, sha256, commit, how it was pinned); not a key field.
#: 5 -- ``predictions.proba`` holds float32 probabilities (each the shortest decimal that reads
#:      back as the same float32; version 4 rounded them to 4 decimals) and ``metrics`` and
#:      ``predicted_class_counts`` are computed from exactly these values, so they recompute
#:      exactly from the row; layer-probe rows store their probe's predictions (version 4
#:      copied their network's). Rows are checked against their predictions when read
#:      (:mod:`eegbench.results.recompute`: exact for version 5, the values reachable by
#:      breaking 4-decimal ties either way for version 4). The fields are unchanged, so rows
#:      of version 4 are read as they are.
#:      Regression rows (added within version 5): ``target`` names the numeric target (None
#:      for a classification row) and ``predictions`` holds ``y`` (the targets), ``pred``
#:      (float32 predictions) and ``train_mean`` (the mean training target: the prediction
#:      of the training-mean reference); their ``metrics`` are the regression metrics of
#:      :mod:`eegbench.metrics`, computed from exactly these values.
SCHEMA_VERSION = 5

#: Fields added after schema 1, with the value an older row gets when read
#: (``config``: schema 3; the others: schema 2).
FIELD_DEFAULTS_LATER: dict[str, Any] = {"draw": None, "calibration": None, "n_calib": 0,
                                        "train_sessions": [], "test_sessions": [],
                                        "config": None, "budget": None, "n_trainable": None,
                                        "predicted_class_counts": None, "collapsed": None,
                                        "hp_source": None, "predictions": None,
                                        "data_fingerprint": None, "code_fingerprint": None,
                                        "data_quality": None, "weights": None,
                                        "suite": None, "target": None}


@dataclass
class ResultRow:
    """One evaluated fold.

    ``n_train`` counts the windows of training subjects, ``n_calib`` the labelled windows of
    the test subject used for calibration (few-shot), ``n_test`` the evaluated windows; the
    calibration windows are never among the test windows. ``peak_rss_mb`` is the process's
    peak resident memory at the end of the fold (``ru_maxrss``, so a running maximum).

    ``key_fields`` identify the fold; two rows with the same key are the same result, which
    is how a re-run skips finished folds.
    """

    dataset: str
    task: str
    protocol: str
    fold: str
    test_subject: str
    model: str
    family: str
    adaptation: str
    seed: int
    config_hash: str
    metrics: dict[str, float]
    n_train: int
    n_valid: int
    n_test: int
    n_parameters: int
    train_seconds: float
    inference_seconds: float
    peak_rss_mb: float
    git_revision: str
    versions: dict[str, str]
    fit_report: dict[str, Any] = field(default_factory=dict)
    valid_subjects: list[str] = field(default_factory=list)
    shots: int | None = None
    draw: int | None = None
    calibration: str | None = None
    n_calib: int = 0
    train_sessions: list[str] = field(default_factory=list)
    test_sessions: list[str] = field(default_factory=list)
    #: Identity of the pretrained weights: ``sha256:<hex>`` of the checkpoint file (or the
    #: pinned hub reference); None without a checkpoint. Part of the key.
    checkpoint: str | None = None
    #: The resolved configuration sections that ``config_hash`` hashes (schema >= 3).
    config: dict[str, Any] | None = None
    #: The optimisation budget actually used (epochs, schedule, ...; schema >= 4).
    budget: dict[str, Any] | None = None
    #: Parameters updated by the adaptation (a probe's head, PEFT adapters, ...).
    n_trainable: int | None = None
    #: How many test windows were predicted as each class (argmax), in class order.
    predicted_class_counts: list[int] | None = None
    #: True when the model predicts a single class on every test window.
    collapsed: bool | None = None
    #: How the hyperparameters were decided ("a priori: <source>" or "nested: <inner split>").
    hp_source: str | None = None
    #: Test labels and class probabilities of the fold (float32 values, schema >= 5), from
    #: which ``metrics`` are computed; also used by the tests against chance.
    predictions: dict[str, Any] | None = None
    #: Fingerprint of the data the fold was computed on (cache key, subject list).
    data_fingerprint: str | None = None
    #: Fingerprint of the model implementation (distribution, version, source hash).
    code_fingerprint: str | None = None
    #: Signal-quality summary of the dataset's files (policy, flagged files and checks).
    data_quality: dict[str, Any] | None = None
    #: Provenance of the pretrained weights: ``source``, ``kind`` (hub / file), ``sha256``,
    #: ``commit``, ``pinned_by`` ("sha256" | "revision" | "none") and ``known`` (registry
    #: entry); None without a checkpoint (or when it is not loaded, ``init=random``).
    weights: dict[str, Any] | None = None
    #: ``<name>@<version>`` of the suite the row was run for (added within version 5, None
    #: when run outside a suite); not a key field: a suite reuses rows of the same identity.
    suite: str | None = None
    #: The numeric target of a regression row (``name``, ``column``, ``level``, ``unit``,
    #: ``table``; added within version 5); None for a classification row. Not a key field
    #: (the task and the data fingerprint already identify it).
    target: dict[str, Any] | None = None
    created_at: str = ""
    schema_version: int = SCHEMA_VERSION

    #: What identifies a fold's result: the configuration, and what it was computed from
    #: (data, model code, checkpoint), so changed data or code never reuses an old row.
    key_fields = ("dataset", "task", "protocol", "fold", "model", "adaptation", "seed",
                  "shots", "config_hash", "data_fingerprint", "code_fingerprint", "checkpoint")

    def key(self) -> str:
        """Return the fold's identity hash (used as its file name in the store)."""
        return row_key({k: getattr(self, k) for k in self.key_fields})

    def to_dict(self) -> dict[str, Any]:
        """Return the row as a JSON-serialisable dict."""
        return asdict(self)


def row_key(identity: dict[str, Any]) -> str:
    """Hash the identifying fields of a row."""
    missing = [k for k in ResultRow.key_fields if k not in identity]
    if missing:
        raise ValueError(f"row identity lacks {missing}")
    blob = json.dumps({k: identity[k] for k in ResultRow.key_fields}, sort_keys=True,
                      default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:24]
