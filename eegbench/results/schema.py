"""The result row: one per dataset x model x protocol x fold x seed (schema is versioned)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


@dataclass
class ResultRow:
    """One evaluated fold.

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
    checkpoint: str | None = None
    created_at: str = ""
    schema_version: int = SCHEMA_VERSION

    key_fields = ("dataset", "task", "protocol", "fold", "model", "adaptation", "seed",
                  "shots", "config_hash")

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
