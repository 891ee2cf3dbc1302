"""Benchmark models: the common contract, classical pipelines and braindecode networks."""

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
           "SignalSpec", "build_model", "load_builtin_models"]
