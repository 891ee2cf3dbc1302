"""Robust imports of optional or fragile third-party packages.

braindecode 1.8.1 imports ``torchaudio`` at module level for a handful of models
(BrainModule, EEGSimpleConv, MetaNeuromotorHand, EMG2QwertyNet and the FIR/IIR filter
bank layer). PyPI only ships CUDA builds of torchaudio, pinned to other torch releases,
so on a CPU-only torch 2.13 install ``import torchaudio`` fails and, with it,
``import braindecode.models``. When that happens we register a stub ``torchaudio`` whose
members raise a clear :class:`ImportError` when *used*, so every model that does not
need torchaudio (all the ones eegbench wraps) imports and runs normally.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import logging
import sys
import types
from typing import Any, NoReturn

logger = logging.getLogger(__name__)

_STUB_MARKER = "__eegbench_stub__"


def _missing(name: str, reason: str) -> NoReturn:
    raise ImportError(
        f"'{name}' needs torchaudio, which could not be imported ({reason}). Install a "
        "torchaudio build that matches your torch version (e.g. torch==2.9.1 with "
        "torchaudio==2.9.1) to use it; eegbench's built-in models do not need it."
    )


def _make_stub_torchaudio(reason: str) -> types.ModuleType:
    import torch

    def stub_function(name: str):
        def _fn(*args: Any, **kwargs: Any) -> NoReturn:
            _missing(f"torchaudio.{name}", reason)

        _fn.__name__ = name.rsplit(".", 1)[-1]
        return _fn

    def stub_module_class(name: str) -> type:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            _missing(f"torchaudio.transforms.{name}", reason)

        return type(name, (torch.nn.Module,), {"__init__": __init__})

    root = types.ModuleType("torchaudio")
    functional = types.ModuleType("torchaudio.functional")
    transforms = types.ModuleType("torchaudio.transforms")
    for fname in ("fftconvolve", "filtfilt", "lfilter", "resample"):
        setattr(functional, fname, stub_function(f"functional.{fname}"))
    for cname in ("Resample", "Spectrogram", "TimeMasking", "FrequencyMasking"):
        setattr(transforms, cname, stub_module_class(cname))
    root.functional = functional
    root.transforms = transforms
    root.__version__ = "0+eegbench.stub"
    for mod in (root, functional, transforms):
        setattr(mod, _STUB_MARKER, reason)
        # importlib.util.find_spec() (used by e.g. peft and transformers to probe optional
        # packages) raises on a module in sys.modules without a spec
        mod.__spec__ = importlib.machinery.ModuleSpec(mod.__name__, None)
    return root


def ensure_torchaudio() -> bool:
    """Make ``import torchaudio`` succeed, with a stub if the real package cannot load.

    Returns
    -------
    bool
        True if the real torchaudio is importable, False if the stub was installed.
    """
    existing = sys.modules.get("torchaudio")
    if existing is not None:
        return not hasattr(existing, _STUB_MARKER)
    try:
        importlib.import_module("torchaudio")
        return True
    except (ImportError, OSError) as err:  # OSError: binary built for another torch/CUDA
        for key in [k for k in sys.modules if k == "torchaudio" or k.startswith("torchaudio.")]:
            del sys.modules[key]
        reason = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        logger.debug("torchaudio unavailable (%s); installing stub", reason)
        stub = _make_stub_torchaudio(reason)
        sys.modules["torchaudio"] = stub
        sys.modules["torchaudio.functional"] = stub.functional
        sys.modules["torchaudio.transforms"] = stub.transforms
        return False


def import_braindecode_models() -> types.ModuleType:
    """Import :mod:`braindecode.models`, tolerating a missing or broken torchaudio.

    Returns
    -------
    module
        The :mod:`braindecode.models` module.
    """
    ensure_torchaudio()
    try:
        return importlib.import_module("braindecode.models")
    except ImportError as err:
        raise ImportError(
            "braindecode is required for the deep-learning models: run `bash scripts/install.sh` "
            "(it installs braindecode==1.8.1 with --no-deps)."
        ) from err


def braindecode_model_class(name: str) -> type:
    """Return the braindecode network class called ``name`` (a model of :mod:`braindecode.models`).

    Only public ``torch.nn.Module`` subclasses are returned, so a configured ``arch`` can
    select a network but never another attribute of the module (a function, a submodule).

    Raises
    ------
    ValueError
        If ``name`` is not such a class (the message lists the allowed names).
    """
    import torch

    models = import_braindecode_models()
    allowed = sorted(n for n in dir(models) if not n.startswith("_")
                     and isinstance(getattr(models, n), type)
                     and issubclass(getattr(models, n), torch.nn.Module))
    if not isinstance(name, str) or name not in allowed:
        raise ValueError(f"Invalid value for the 'arch' parameter. Allowed values are the "
                         f"networks of braindecode.models {allowed}, but got {name!r}.")
    return getattr(models, name)
