"""The model contract every benchmark model follows, and the model registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eegbench.adaptation.peft_methods import PEFT_ADAPTATIONS
from eegbench.registry import Registry


@dataclass(frozen=True)
class SignalSpec:
    """What the data look like: shared by every model (braindecode's signal parameters)."""

    n_chans: int
    n_times: int
    sfreq: float
    n_outputs: int
    ch_names: tuple[str, ...] = ()
    ch_pos: dict[str, list[float]] = field(default_factory=dict)
    ch_types: tuple[str, ...] = ()
    ch_ori: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def from_info(cls, info: dict[str, Any], n_times: int) -> SignalSpec:
        """Build from a :class:`~eegbench.data.cache.WindowsDataset` ``info`` dict."""
        return cls(
            n_chans=len(info["ch_names"]),
            n_times=int(n_times),
            sfreq=float(info["sfreq"]),
            n_outputs=len(info["classes"]),
            ch_names=tuple(info["ch_names"]),
            ch_pos=dict(info.get("ch_pos", {})),
            ch_types=tuple(info.get("ch_types", ())),
            ch_ori=dict(info.get("ch_ori", {})),
        )


class BenchmarkModel(ABC):
    """A classifier evaluated by the protocols.

    Subclasses implement :meth:`fit` (training data plus validation data drawn from
    training subjects only), :meth:`predict_proba` and :meth:`n_parameters`.
    """

    #: "classical", "specialist" or "foundation"
    family: str = "specialist"
    #: "from_scratch", "finetune" (pretrained weights, all trained) or "linear_probe"
    #: (pretrained encoder frozen, linear head trained)
    adaptation: str = "from_scratch"

    @abstractmethod
    def fit(
        self,
        X_train: np.ndarray,
        y_train: np.ndarray,
        X_valid: np.ndarray,
        y_valid: np.ndarray,
        signal: SignalSpec,
        seed: int,
    ) -> dict[str, Any]:
        """Fit on training windows; return a report dict (e.g. best epoch)."""

    @abstractmethod
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Return class probabilities, shape (n_windows, n_classes)."""

    @abstractmethod
    def n_parameters(self) -> int:
        """Return the number of parameters the fitted model uses at inference.

        For a linear probe this counts the frozen encoder too (the number of trained
        parameters is in the fit report as ``n_trainable``).
        """

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Return the features the head sees, shape (n_windows, n_features).

        Raises
        ------
        NotImplementedError
            If the model has no separable feature extractor.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement encode().")


#: name -> factory(**params) returning a BenchmarkModel. Plugins: entry points "eegbench.models".
MODELS: Registry = Registry("model", group="eegbench.models")


def build_model(name: str, **params: Any) -> BenchmarkModel:
    """Instantiate the registered model ``name`` with ``params``."""
    load_builtin_models()
    return MODELS.get(name)(**params)


def load_builtin_models() -> Registry:
    """Import the built-in model modules (which registers them) and return :data:`MODELS`."""
    from eegbench.models import (  # noqa: F401
        brain_tokenizer,
        braindecode_zoo,
        classical,
        deep,
        filterbank,
        foundation,
        foundation_zoo,
    )

    return MODELS


#: Allowed values of a model's ``adaptation`` (PEFT methods: eegbench.adaptation.peft_methods).
ADAPTATIONS = ("from_scratch", "finetune", "linear_probe") + PEFT_ADAPTATIONS


def check_adaptation(adaptation: str) -> str:
    """Validate an ``adaptation`` value (MNE-style message)."""
    if adaptation not in ADAPTATIONS:
        raise ValueError(f"Invalid value for the 'adaptation' parameter. Allowed values are "
                         f"{list(ADAPTATIONS)}, but got {adaptation!r}.")
    return adaptation
