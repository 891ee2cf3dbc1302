"""Benchmark models: the common contract, classical pipelines and braindecode networks.

Plugins wrap braindecode architectures through :func:`braindecode_models` (the supported,
public route: it works whether or not torchaudio can be imported), e.g.
``EEGNeX = braindecode_models().EEGNeX``; a plain ``from braindecode.models import EEGNeX``
inside a plugin module works too, because eegbench prepares that import before loading
plugins.

The names below are imported on first use, so that importing a light submodule (the
precomputed parameter table behind ``eegbench models list``) does not import torch. The
built-in models are listed as data in :mod:`eegbench.models.zoo`.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> (module, attribute).
_EXPORTS = {
    "ADAPTATIONS": ("eegbench.adaptation.registry", "ADAPTATIONS"),
    "MODELS": ("eegbench.models.base", "MODELS"),
    "BenchmarkModel": ("eegbench.models.base", "BenchmarkModel"),
    "SignalSpec": ("eegbench.models.base", "SignalSpec"),
    "build_model": ("eegbench.models.base", "build_model"),
    "load_builtin_models": ("eegbench.models.base", "load_builtin_models"),
    "InputAdapter": ("eegbench.models.input_contract", "InputAdapter"),
    "InputContract": ("eegbench.models.input_contract", "InputContract"),
    "braindecode_models": ("eegbench._compat", "import_braindecode_models"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'eegbench.models' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
