"""Benchmark models: the common contract, classical pipelines and braindecode networks."""

from eegbench.models.base import MODELS, BenchmarkModel, SignalSpec, build_model

__all__ = ["MODELS", "BenchmarkModel", "SignalSpec", "build_model"]
