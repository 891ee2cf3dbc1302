"""Result rows (versioned schema), provenance, and the append-only store."""

from eegbench.results.store import ResultStore

__all__ = ["ResultStore"]
