"""Compute the precomputed model table of :mod:`eegbench.models.parameter_table` (minutes).

- eegbench models: built as configured by ``conf/model/<name>.yaml`` (random initialisation,
  no checkpoint) for :data:`~eegbench.models.parameter_table.REFERENCE_INPUT`; classical
  pipelines are fitted on random windows of that shape (their size depends on the shapes
  only);
- braindecode models: :func:`eegbench.models.braindecode_catalogue.count_parameters` at
  braindecode's own reference input, with the family, modality and status the table shows.

``eegbench models counts --write`` rewrites the file; ``tests/conformance/
test_parameter_counts.py`` recomputes it and compares. A model missing from the file (a
plugin) is counted by :func:`count_model` when listed.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from eegbench.models.base import MODELS, SignalSpec, build_model, load_builtin_models
from eegbench.models.parameter_table import (
    REFERENCE_CHANNELS,
    REFERENCE_INPUT,
    TABLE_PATH,
    installed_versions,
)
from eegbench.resources import config_dir

logger = logging.getLogger(__name__)

#: Model parameters never used for counting (weights are not loaded to count them).
_WEIGHT_PARAMS = ("checkpoint", "checkpoint_sha256", "allow_unpinned", "init")
#: Models counted by architecture only through another entry (``model=braindecode
#: model.params.arch=<Name>``: see the braindecode table).
NOT_COUNTED = {"braindecode": "braindecode (any, by arch)"}


def reference_signal() -> SignalSpec:
    """Return the reference input with 10-20 positions (MNE's standard_1020 montage)."""
    import mne  # heavy: only to count

    montage = mne.channels.make_standard_montage("standard_1020")
    positions = montage.get_positions()["ch_pos"]
    lower = {k.lower(): k for k in positions}
    ch_pos = {ch: [float(v) for v in positions[lower[ch.lower()]]] for ch in REFERENCE_CHANNELS
              if ch.lower() in lower}
    return SignalSpec(ch_names=REFERENCE_CHANNELS, ch_pos=ch_pos,
                      ch_types=("eeg",) * len(REFERENCE_CHANNELS), **REFERENCE_INPUT)


def configured_params(name: str) -> dict[str, Any]:
    """Return ``params`` of the ``conf/model`` yaml that names ``name`` ({} when none)."""
    for path in sorted((config_dir() / "model").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text()) or {}
        if spec.get("name") == name:
            return {k: v for k, v in dict(spec.get("params") or {}).items()
                    if k not in _WEIGHT_PARAMS}
    return {}


def count_model(name: str, signal: SignalSpec | None = None) -> tuple[str, int | None]:
    """Return ``(family, parameter count)`` of eegbench model ``name`` for ``signal``.

    Torch models are built with random weights; classical pipelines are fitted on random
    windows of the signal's shape. The count is None when the model cannot be built here.
    """
    signal = signal or reference_signal()
    model = build_model(name, **configured_params(name), adaptation="from_scratch")
    family = str(getattr(model, "family", "?"))
    try:
        if hasattr(model, "build"):  # torch models: adapter, encoder and head
            module = model.build(signal)
            return family, int(sum(p.numel() for p in module.parameters()))
        rng = np.random.default_rng(0)
        X = rng.standard_normal((40, signal.n_chans, signal.n_times)).astype(np.float32)
        y = np.arange(40) % signal.n_outputs
        model.fit(X, y, X[:0], y[:0], signal, 0)
        return family, int(model.n_parameters())
    except Exception as err:  # noqa: BLE001 - reported in the table, not raised
        logger.warning("could not count the parameters of %s: %s: %s", name,
                       type(err).__name__, str(err).splitlines()[0][:200])
        return family, None


def compute_table() -> dict[str, Any]:
    """Count every built-in eegbench model and every braindecode model (minutes)."""
    import mne  # heavy: only to count

    from eegbench.models.braindecode_catalogue import (
        zoo_table_entries,  # imports torch and braindecode
    )

    mne.set_log_level("WARNING")  # braindecode's interpolated models print MNE info lines
    load_builtin_models()
    signal = reference_signal()
    models: dict[str, dict[str, Any]] = {}
    for name in MODELS.names():
        if name.startswith("braindecode.") or MODELS.distribution(name) is not None:
            continue  # braindecode classes are in their own table; plugins are not shipped
        if name in NOT_COUNTED:
            models[name] = {"family": NOT_COUNTED[name], "n_parameters": None}
            continue
        family, n = count_model(name, signal)
        models[name] = {"family": family, "n_parameters": n}
    return {"reference_input": {**REFERENCE_INPUT, "channels": list(REFERENCE_CHANNELS)},
            "versions": installed_versions(), "eegbench": models,
            "braindecode": zoo_table_entries()}


def write_table(path: Path = TABLE_PATH) -> Path:
    """Recompute the counts and write them to ``path`` (sorted keys, stable output)."""
    path.write_text(json.dumps(compute_table(), indent=1, sort_keys=True) + "\n")
    return path
