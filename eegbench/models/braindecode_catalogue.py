"""The braindecode catalogue: every model braindecode ships, as eegbench sees it.

:func:`catalogue` lists each model with its family, modality, parameter count at braindecode's
own reference input and, for models that cannot run in eegbench, the reason
(:data:`UNAVAILABLE`), which :class:`~eegbench.models.braindecode_zoo.BraindecodeZooModel`
raises before building anything (``python -m eegbench.models list``).
"""

from __future__ import annotations

import contextlib
import csv
import difflib
import functools
import inspect
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from torch import nn

from eegbench._compat import ensure_torchaudio, import_braindecode_models
from eegbench.models.parameter_table import TORCHAUDIO_REASON

logger = logging.getLogger(__name__)


class ModelUnavailableError(RuntimeError):
    """A braindecode model that cannot run in eegbench (the message says why)."""


#: Models that cannot run on eegbench's data here, with the reason (measured by building each
#: model on real eegmat windows, 19 channels x 640 samples at 128 Hz; see the README's table).
UNAVAILABLE: dict[str, str] = {
    "MetaNeuromotorHand": "sEMG model (16-channel wristband EMG at 2000 Hz, CTC sequence "
                          "output); no eegbench dataset provides such input",
    "EMG2QwertyNet": "sEMG model (EMG at 2000 Hz, CTC sequence output); no eegbench dataset "
                     "provides such input",
    "VEMG2Pose": "sEMG hand-pose regression (per-frame joint angles, not class logits)",
    "NeuroPose": "sEMG hand-pose regression (per-frame joint angles, not class logits)",
    "SensingDynamics": "sEMG hand-pose regression (per-frame joint angles, not class logits)",
    "DANCE": "outputs per-latent-token logits (batch, num_latents, n_outputs), not class "
             "logits",
}

#: Models that run, but not on every dataset: what they need (a build that does not meet it
#: fails with a message naming the model, the dataset's shape and braindecode's error).
REQUIREMENTS: dict[str, str] = {
    "AttnSleep": "30-s windows at 100 Hz (its d_model equals the feature extractor's time "
                 "steps for that length)",
    "SleepStagerBlanco2020": "a channel count divisible by n_groups (2 by default)",
}

#: Input contracts (:class:`~eegbench.models.input_contract.InputContract` fields) applied when the
#: user gives none: models whose patching needs their pretraining rate and patch length.
#: Values from the braindecode docstrings (papers): 200 Hz with 1-s patches (CBraMod, LaBraM,
#: CodeBrain, EEG-DINO, REVE), 256 Hz with 64-sample patches (EEGPT).
DEFAULT_CONTRACTS: dict[str, dict[str, Any]] = {
    **{n: {"sfreq": 200.0, "patch_size": 200} for n in (
        "CBraMod", "Labram", "InterpolatedLaBraM", "CodeBrain", "EEGDINO", "REVE")},
    **{n: {"sfreq": 256.0, "patch_size": 64} for n in ("EEGPT", "InterpolatedEEGPT")},
    # BENDR: its 20 inputs in order (19 10-20 channels, T5/T6 = P7/P8, then SCALE, which no
    # dataset has and is zero-filled) at 256 Hz; see eegbench.models.foundation_zoo.
    "BENDR": {"sfreq": 256.0, "ch_names": (
        "FP1", "FP2", "F7", "F3", "FZ", "F4", "F8", "T7", "C3", "CZ", "C4", "T8", "P7", "P3",
        "PZ", "P4", "P8", "O1", "O2", "SCALE")},
}

#: Models that run but are too large for the CPU conformance run (measured), with why.
TOO_LARGE_FOR_CPU_TESTS: dict[str, str] = {
    "ZUNA": "172 M parameters: the conformance kit had not finished after 5 min on the shared "
            "2-core CPU; run it where a GPU is available",
}

#: Models built without ``chs_info``: BENDR requires its own 20-name order (given by its
#: contract), STEEGFormer would download its channel vocabulary from the Hugging Face Hub.
NO_CHS_INFO = frozenset({"BENDR", "STEEGFormer"})

#: Models that fetch a channel-position bank when built (REVE): given the dataset's positions.
POSITION_BANK = frozenset({"REVE"})

#: Models too heavy for the default (fast) conformance run on a 2-core CPU (braindecode's
#: summary.csv count): checked with -m slow.
HEAVY_PARAMETERS = 10_000_000

#: Lighter models measured above ~2.5 s for the conformance kit on the shared 2-core CPU
#: (``pytest --durations``, load average ~6): also checked with -m slow, so that the default
#: run stays short. The six foundation wrappers of foundation_zoo.py (LUNA, Signal-JEPA,
#: EEG-DINO, ...) run by default in tests/conformance/test_models.py at a small size.
SLOW_ON_CPU = frozenset({
    "EEGInceptionMI", "TIDNet", "InterpolatedSignalJEPA", "BIOT", "InterpolatedLaBraM",
    "CBraMod", "InterpolatedBIOT", "DeepSleepNet", "Labram", "EEGDINO", "EEGSym", "TCFormer",
    "EEGNeX", "SignalJEPA", "SignalJEPA_Contextual", "ATCNet", "PBT", "LUNA"})


@dataclass(frozen=True)
class ZooEntry:
    """One braindecode model as eegbench sees it."""

    name: str
    family: str
    modality: str
    application: str
    categories: str
    sfreq: str
    n_parameters: int | None
    reference_input: str
    reason: str = ""

    @property
    def runnable(self) -> bool:
        """True when eegbench can run the model (no listed reason)."""
        return not self.reason

    @property
    def heavy(self) -> bool:
        """True for models above :data:`HEAVY_PARAMETERS` or in :data:`SLOW_ON_CPU`."""
        return bool(self.n_parameters and self.n_parameters > HEAVY_PARAMETERS) or (
            self.name in SLOW_ON_CPU)


@functools.cache
def _summary() -> dict[str, dict[str, str]]:
    import braindecode.models as bm  # braindecode: optional, heavy

    text = files(bm).joinpath("summary.csv").read_text(encoding="utf-8-sig")
    return {row["Model"]: {k: " ".join(str(v).split()) for k, v in row.items()}
            for row in csv.DictReader(text.splitlines())}


@functools.cache
def model_classes() -> dict[str, type]:
    """Return every braindecode model class by name (interpolated wrappers included)."""
    import_braindecode_models()
    from braindecode.models import util  # braindecode: optional, heavy

    if not util.models_dict:
        util._init_models_dict()
    return {**util.models_dict, **util.interpolated_models_dict}


def model_class(name: str) -> type:
    """Return the braindecode class ``name`` ("did you mean" error when unknown)."""
    classes = model_classes()
    if name not in classes:
        close = difflib.get_close_matches(name, list(classes), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(f"Invalid value for the 'arch' parameter. Allowed values are the "
                         f"braindecode models {sorted(classes)}, but got {name!r}.{hint}")
    return classes[name]


def family_of(name: str) -> str:
    """Return "foundation" when braindecode tags the model as a foundation model."""
    cats = _summary().get(name, {}).get("Categorization", "")
    return "foundation" if "Foundation Model" in cats else "specialist"


def reference_signal(name: str, complete: bool = False) -> dict[str, Any]:
    """Return braindecode's own reference signal parameters for ``name`` (its test fixtures).

    ``complete=True`` fills every signal parameter (braindecode's defaults: 3 channels,
    1000 samples at 250 Hz) for models that size lazily from the input.
    """
    import_braindecode_models()
    from braindecode.models import util  # braindecode: optional, heavy

    spec = {m: p for m, _, p in util.models_mandatory_parameters}.get(name)
    if callable(spec):
        spec = spec()
    required = next((r for m, r, _ in util.models_mandatory_parameters if m == name), None)
    if complete:
        required = ["n_chans", "n_outputs", "n_times", "sfreq"]
    return util._get_signal_params(dict(spec) if spec else None, required)


def count_parameters(name: str) -> tuple[int | None, str]:
    """Count ``name``'s parameters at braindecode's reference input (on the meta device)."""
    cls = model_class(name)
    try:
        params = reference_signal(name)
        if "n_times" not in params and "n_chans" not in params and "chs_info" not in params:
            params = reference_signal(name, complete=True)  # lazily sized (e.g. CBraMod)
    except Exception as err:  # noqa: BLE001 - reported, not raised
        return None, f"no reference input ({type(err).__name__})"
    shown = {k: v for k, v in params.items() if k in ("n_chans", "n_times", "sfreq",
                                                       "n_outputs")}
    if "chs_info" in params and "n_chans" not in shown:
        shown["n_chans"] = len(params["chs_info"])
    names = [c["ch_name"] for c in params.get("chs_info") or []]
    with offline_position_bank({n: [0.0, 0.0, 0.0] for n in names}):
        for device in ("meta", "cpu"):
            try:
                with torch.device(device):
                    net = cls(**params)
                if any(isinstance(p, nn.parameter.UninitializedParameter)
                       for p in net.parameters()):
                    break
                return int(sum(p.numel() for p in net.parameters())), _fmt(shown)
            except Exception:  # noqa: BLE001,S112 - some models compute on tensors at init
                continue
    return None, _fmt(shown)


def _fmt(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def needs_torchaudio(name: str) -> bool:
    """True if braindecode model ``name``'s module uses torchaudio (or its filter bank)."""
    src = inspect.getsource(inspect.getmodule(model_class(name)))
    return "torchaudio" in src or "FilterBankLayer(" in src


def unavailable_reason(name: str) -> str:
    """Return why ``name`` cannot run here ("" when it can)."""
    if name in UNAVAILABLE:
        return UNAVAILABLE[name]
    if not ensure_torchaudio() and needs_torchaudio(name):
        return TORCHAUDIO_REASON
    return ""


def zoo_entry(name: str, n_parameters: int | None, reference_input: str) -> ZooEntry:
    """Return the catalogue row of braindecode model ``name`` with the given parameter count."""
    row = _summary().get(name, {})
    return ZooEntry(
        name=name, family=family_of(name), modality=row.get("Modality", "?"),
        application=row.get("Application", "?"), categories=row.get("Categorization", ""),
        sfreq=row.get("Sampling Frequency (Hz)", "?"), n_parameters=n_parameters,
        reference_input=reference_input, reason=unavailable_reason(name))


def zoo_table_entries() -> dict[str, dict[str, Any]]:
    """Every braindecode model as the precomputed table stores it (counts all: minutes).

    The availability is stored as what does not depend on this environment (``unavailable``,
    ``needs_torchaudio``); :func:`eegbench.models.parameter_table.zoo_status` renders it.
    """
    out = {}
    for name in sorted(model_classes(), key=str.lower):
        n_params, reference = count_parameters(name)
        entry = zoo_entry(name, n_params, reference)
        out[name] = {"family": entry.family, "modality": entry.modality,
                     "n_parameters": n_params, "reference_input": reference,
                     "unavailable": UNAVAILABLE.get(name, ""),
                     "needs_torchaudio": needs_torchaudio(name),
                     "requirement": REQUIREMENTS.get(name, ""),
                     "too_large": TOO_LARGE_FOR_CPU_TESTS.get(name, ""),
                     "heavy": entry.heavy}
    return out


def catalogue_entries() -> dict[str, dict[str, Any]]:
    """:func:`catalogue` in the table's form, availability as found here (for the README)."""
    return {e.name: {"family": e.family, "modality": e.modality,
                     "n_parameters": e.n_parameters, "reference_input": e.reference_input,
                     "unavailable": e.reason, "requirement": REQUIREMENTS.get(e.name, ""),
                     "too_large": TOO_LARGE_FOR_CPU_TESTS.get(e.name, ""), "heavy": e.heavy}
            for e in catalogue()}


@functools.cache
def catalogue() -> tuple[ZooEntry, ...]:
    """Return every braindecode model with family, modality, parameters and availability."""
    return tuple(zoo_entry(name, *count_parameters(name))
                 for name in sorted(model_classes(), key=str.lower))


@contextlib.contextmanager
def offline_position_bank(positions: dict[str, list[float]]):
    """Give REVE a local position bank (``REVE_POSITIONS_PATH``) so it never downloads one.

    braindecode's REVE fetches its channel-position bank from the Hugging Face Hub when it is
    built; eegbench supplies the dataset's own positions instead (head frame, metres).
    """
    old = os.environ.get("REVE_POSITIONS_PATH")
    with tempfile.TemporaryDirectory(prefix="eegbench_reve_") as tmp:
        Path(tmp, "reve_positions.json").write_text(json.dumps(positions))
        os.environ["REVE_POSITIONS_PATH"] = tmp
        try:
            yield Path(tmp)
        finally:
            if old is None:
                os.environ.pop("REVE_POSITIONS_PATH", None)
            else:
                os.environ["REVE_POSITIONS_PATH"] = old
