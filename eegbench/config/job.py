"""A validated job: its typed spec and the resolved configuration it was built from.

The entry point (:mod:`eegbench.cli`) composes the Hydra configuration, resolves it once and
builds a :class:`Job`; everything below receives the job (or plain values from it), never a
Hydra object. ``spec`` is what the code reads; ``resolved`` is the plain mapping the spec was
validated from (subject ids normalised), kept because a row's ``config_hash`` hashes exactly
what the configuration says (:func:`eegbench.evaluation.identity.identity_config`), not the
spec's defaults.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from eegbench.config.sections import JobSpec


def plain(value: Any) -> Any:
    """Return ``value`` as plain dicts and lists (a Hydra node's interpolations resolved).

    Any mapping becomes a ``dict`` and any non-string sequence a ``list``; reading an item
    resolves it, so a composed Hydra config needs no Hydra call here.
    """
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [plain(v) for v in value]
    return value


def _with_normalised_subjects(resolved: dict[str, Any], spec: JobSpec) -> dict[str, Any]:
    """Write the spec's normalised subject ids into the resolved mapping (where it has some)."""
    resolved = copy.deepcopy(resolved)
    dataset = resolved.get("dataset")
    if isinstance(dataset, dict) and dataset.get("subjects") is not None:
        dataset["subjects"] = list(spec.dataset.subjects or [])
    if spec.pretrain is not None and isinstance(resolved.get("pretrain"), dict):
        nodes = resolved["pretrain"].get("datasets") or []
        for node, entry in zip(nodes, spec.pretrain.datasets, strict=True):
            if isinstance(node, dict) and not isinstance(entry, str) \
                    and node.get("subjects") is not None:
                node["subjects"] = list(entry.subjects or [])
    return resolved


@dataclasses.dataclass(frozen=True)
class Job:
    """A job ready to run: the typed spec and its resolved configuration.

    Attributes
    ----------
    spec : JobSpec
        The validated, typed configuration (subject ids normalised).
    resolved : dict
        The resolved configuration (plain values, no ``hydra`` node), subject ids normalised
        as in ``spec``.
    """

    spec: JobSpec
    resolved: dict[str, Any]

    @classmethod
    def from_spec(cls, spec: JobSpec, resolved: Mapping[str, Any]) -> Job:
        """Pair a built spec with the mapping it was built from."""
        data = plain({k: v for k, v in resolved.items() if k != "hydra"})
        return cls(spec, _with_normalised_subjects(data, spec))

    def section(self, name: str) -> Any:
        """Return a copy of the resolved section ``name`` (None when absent)."""
        return copy.deepcopy(self.resolved.get(name))
