"""The model contract every benchmark model follows, and the model registry.

:data:`MODELS` is built from the tables of :mod:`eegbench.models.zoo` (lazy
``"module:attribute"`` entries) and the ``eegbench.models`` entry points: nothing registers by
being imported.
"""

from __future__ import annotations

import difflib
import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eegbench._compat import ensure_torchaudio
from eegbench.adaptation.registry import check_adaptation
from eegbench.models.zoo import BUILTIN_MODELS, MODEL_FAMILIES
from eegbench.registry import Registry

__all__ = ["MODELS", "RUNNER_PARAMS", "BenchmarkModel", "SignalSpec", "accepted_params",
           "build_model", "check_adaptation", "check_model_params", "load_builtin_models",
           "meg_orientations"]


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
            ch_ori=dict(info.get("ch_ori") or meg_orientations(info)),
        )


def meg_orientations(info: dict[str, Any]) -> dict[str, list[float]]:
    """Return each MEG sensor's orientation (the coil's normal, ``loc[9:12]``), by name.

    The cache keeps MNE's full ``loc`` vectors in ``info["ch_loc"]``; EEG channels have no
    orientation and are left out.
    """
    types = dict(zip(info.get("ch_names", ()), info.get("ch_types", ()), strict=False))
    return {name: [float(v) for v in loc[9:12]]
            for name, loc in (info.get("ch_loc") or {}).items()
            if types.get(name) in ("mag", "grad") and len(loc) >= 12}


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


def _plugin_imports() -> None:
    """Let plugins ``import braindecode.models`` (torchaudio stubbed when it cannot load)."""
    ensure_torchaudio()


#: name -> ``factory(**params)`` returning a :class:`BenchmarkModel`: the built-ins of
#: :mod:`eegbench.models.zoo` and the ``eegbench.models`` entry points.
MODELS: Registry = Registry("model", group="eegbench.models", builtins=BUILTIN_MODELS,
                            families=MODEL_FAMILIES, before_plugins=_plugin_imports)


def build_model(name: str, **params: Any) -> BenchmarkModel:
    """Instantiate the registered model ``name`` with ``params`` (checked, see below).

    Raises
    ------
    ValueError
        If a parameter is not accepted by the model's factory (:func:`check_model_params`).
    """
    load_builtin_models()
    check_model_params(name, params)
    return MODELS.get(name)(**params)


#: Parameters the runner passes to every factory (a factory may use or ignore them).
RUNNER_PARAMS = ("trainer", "adaptation")


def _named_params(func: Any) -> tuple[set[str], bool]:
    """Named keyword parameters of ``func`` and whether its ``**kwargs`` are forwarded.

    A ``**kwargs`` whose name starts with ``_`` (``**_``) swallows what the runner passes
    and the factory does not use: it is not forwarded, so the named parameters are all.
    """
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return set(), True
    names = {p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}
    forwarded = any(p.kind == p.VAR_KEYWORD and not p.name.startswith("_")
                    for p in sig.parameters.values())
    return names, forwarded


def accepted_params(factory: Any) -> set[str] | None:
    """Return the parameter names ``factory`` accepts, or None if it takes any ``**kwargs``.

    For a class, the ``__init__`` of each class in its MRO is followed while it forwards
    ``**kwargs`` to its parent.
    """
    if not inspect.isclass(factory):
        names, forwarded = _named_params(factory)
        return None if forwarded else names
    names: set[str] = set()
    for cls in factory.__mro__:
        if "__init__" not in cls.__dict__:
            continue
        if cls is object:
            return names
        more, forwarded = _named_params(cls.__dict__["__init__"])
        names |= more
        if not forwarded:
            return names
    return None


def check_model_params(name: str, params: dict[str, Any]) -> None:
    """Raise if ``params`` holds a key that model ``name``'s factory does not accept.

    A typo (``model.params.c`` for ``C``) would otherwise be swallowed by the factory's
    ``**_`` and silently change nothing. Factories taking arbitrary ``**kwargs`` are not
    checked.

    Raises
    ------
    ValueError
        Naming the key, the model, the accepted keys and close matches.
    """
    factory = load_builtin_models().get(name)
    allowed = accepted_params(factory)
    if allowed is None:
        return
    allowed |= set(RUNNER_PARAMS)
    unknown = sorted(k for k in params if k not in allowed)
    if unknown:
        lower = {a.lower(): a for a in allowed}
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key.lower(), list(lower), n=2)
            if close:
                hints.append(f" Did you mean {' or '.join(repr(lower[c]) for c in close)} "
                             f"for {key!r}?")
        raise ValueError(
            f"Invalid value for the 'model.params' parameter of model '{name}': unknown "
            f"key(s) {unknown}. Allowed keys are {sorted(allowed - set(RUNNER_PARAMS))}."
            + "".join(hints))


def load_builtin_models() -> Registry:
    """Return :data:`MODELS` (its entries are imported on lookup; nothing is imported here)."""
    return MODELS
