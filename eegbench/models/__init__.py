"""Benchmark models: the common contract, classical pipelines and braindecode networks.

Plugins wrap braindecode architectures through :func:`braindecode_models` (the supported,
public route: it works whether or not torchaudio can be imported), e.g.
``EEGNeX = braindecode_models().EEGNeX``; a plain ``from braindecode.models import EEGNeX``
inside a plugin module works too, because eegbench prepares that import before loading
plugins.
"""

from eegbench._compat import import_braindecode_models as braindecode_models
from eegbench.models.adapters import InputAdapter, InputContract
from eegbench.models.base import (
    ADAPTATIONS,
    MODELS,
    BenchmarkModel,
    SignalSpec,
    build_model,
    load_builtin_models,
)

__all__ = ["ADAPTATIONS", "MODELS", "BenchmarkModel", "InputAdapter", "InputContract",
           "SignalSpec", "braindecode_models", "build_model", "load_builtin_models"]
