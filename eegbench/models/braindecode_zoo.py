"""Every braindecode model by name: ``model=braindecode model.params.arch=EEGNeX``.

One generic wrapper turns any :mod:`braindecode.models` class into an eegbench model: the signal
parameters (``n_chans``, ``n_times``, ``sfreq``, ``chs_info`` with the dataset's channel names
and positions, ``n_outputs``) come from the dataset, the model's ``final_layer`` is replaced by
the benchmark's linear head (a model without one, such as the SignalJEPA backbone, is used as
an encoder as it is), and an optional ``contract`` brings the data to the model's input
contract (e.g. ``contract: {sfreq: 200}``).

:func:`catalogue` lists every model braindecode ships with its family, modality, parameter
count at braindecode's own reference input and, for models that cannot run in eegbench, the
reason (:data:`UNAVAILABLE`), which :class:`BraindecodeZooModel` raises before building
anything (``python -m eegbench.models list``).
"""

from __future__ import annotations

import contextlib
import csv
import functools
import inspect
import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from eegbench._compat import ensure_torchaudio, import_braindecode_models
from eegbench.models.base import SignalSpec
from eegbench.models.input_contract import InputAdapter, InputContract
from eegbench.models.parameter_table import TORCHAUDIO_REASON
from eegbench.models.torch_model import TorchBenchmarkModel

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
    from importlib.resources import files

    import braindecode.models as bm

    text = files(bm).joinpath("summary.csv").read_text(encoding="utf-8-sig")
    return {row["Model"]: {k: " ".join(str(v).split()) for k, v in row.items()}
            for row in csv.DictReader(text.splitlines())}


@functools.cache
def model_classes() -> dict[str, type]:
    """Return every braindecode model class by name (interpolated wrappers included)."""
    import_braindecode_models()
    from braindecode.models import util

    if not util.models_dict:
        util._init_models_dict()
    return {**util.models_dict, **util.interpolated_models_dict}


def model_class(name: str) -> type:
    """Return the braindecode class ``name`` ("did you mean" error when unknown)."""
    classes = model_classes()
    if name not in classes:
        import difflib

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
    from braindecode.models import util

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


def chs_info_from(signal: SignalSpec, ch_names: list[str]) -> list[dict[str, Any]]:
    """MNE-style ``chs_info`` (name, kind, 12-element loc) from the dataset's channels."""
    out = []
    types = dict(zip(signal.ch_names, signal.ch_types, strict=False))
    for name in ch_names:
        loc = np.zeros(12)
        pos = signal.ch_pos.get(name)
        if pos is not None:
            loc[:3] = pos
        out.append({"ch_name": name, "kind": types.get(name, "eeg"), "loc": loc})
    return out


def strip_head(net: nn.Module) -> bool:
    """Replace ``net.final_layer`` by identities (in place); False if the model has none."""
    final = getattr(net, "final_layer", None)
    if final is None:
        return False
    if isinstance(final, nn.ModuleList):
        net.final_layer = nn.ModuleList([nn.Identity() for _ in final])
    else:
        net.final_layer = nn.Identity()
    return True


class ZooEncoder(nn.Module):
    """A braindecode network without its classifier: (batch, chans, time) -> (batch, features).

    Parameters
    ----------
    net : nn.Module
        The braindecode model; its ``final_layer`` (if any) is replaced by an identity.
    pooling : {"flatten", "mean"}
        How a multi-dimensional output becomes one vector: ``flatten`` keeps everything,
        ``mean`` averages every axis but the last (tokens -> embedding).
    forward_kwargs : dict, optional
        Extra keyword arguments of ``net.forward`` (e.g. LaBraM's ``ch_names``).
    """

    def __init__(self, net: nn.Module, pooling: str = "flatten",
                 forward_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.forward_kwargs = dict(forward_kwargs or {})
        #: braindecode's feature tap (``forward(x, return_features=True)``) when it has one;
        #: otherwise the classifier (``final_layer``) is replaced by an identity.
        self.tap = "return_features" in inspect.signature(net.forward).parameters
        self.had_head = strip_head(net)
        self.net = net
        if pooling not in ("flatten", "mean"):
            raise ValueError(f"Invalid value for the 'pooling' parameter. Allowed values are "
                             f"['flatten', 'mean'], but got {pooling!r}.")
        self.pooling = pooling

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        kwargs = {"return_features": True} if self.tap else {}
        out = self.net(x, **kwargs, **self.forward_kwargs)
        if isinstance(out, dict):
            out = out.get("features", next(iter(out.values())))
        elif isinstance(out, (tuple, list)):
            out = out[0]
        if self.pooling == "mean" and out.ndim > 2:
            out = out.mean(dim=tuple(range(1, out.ndim - 1)))
        return out.flatten(1)

    def named_layers(self) -> list[tuple[str, nn.Module]]:
        """Return the network's top-level blocks that hold parameters (head excluded)."""
        layers = [(f"net.{n}", m) for n, m in self.net.named_children()
                  if n != "final_layer" and any(True for _ in m.parameters())]
        return layers or [("net", self.net)]  # parameters held by the network itself


class BraindecodeZooModel(TorchBenchmarkModel):
    """Any braindecode model, by class name, with the benchmark's linear head.

    Parameters
    ----------
    arch : str
        Class name in :mod:`braindecode.models` (``python -m eegbench.models list``).
    arch_params : dict, optional
        Extra keyword arguments for the class (architecture size, dropout, ...).
    contract : dict, optional
        Input contract fields (:class:`~eegbench.models.input_contract.InputContract`: ``sfreq``,
        ``patch_size``, ``max_times``, ``scale``, ``units``, ``vocabulary``) the data are
        brought to before the network; default: :data:`DEFAULT_CONTRACTS`, else the data as
        they are.
    pooling : {"flatten", "mean"}, optional
        How the network's output becomes the feature vector; default ``mean`` (over tokens)
        for models with a ``return_features`` tap, else ``flatten``.
    family : str, optional
        Leaderboard family; default from braindecode's tags ("foundation" or "specialist").
    key_layout : str
        Key mapping for checkpoints (:data:`eegbench.models.weights.loading.KEY_MAPPINGS`).
    trainer, adaptation, checkpoint, checkpoint_sha256, allow_unpinned
        See :class:`~eegbench.models.torch_model.TorchBenchmarkModel`.

    Raises
    ------
    ModelUnavailableError
        When the model is listed in :data:`UNAVAILABLE` (or needs the missing torchaudio).
    """

    def __init__(self, arch: str, arch_params: dict[str, Any] | None = None,
                 contract: dict[str, Any] | None = None, pooling: str | None = None,
                 family: str | None = None, key_layout: str = "braindecode",
                 trainer: Any = None, adaptation: str = "from_scratch",
                 checkpoint: str | None = None, checkpoint_sha256: str | None = None,
                 allow_unpinned: bool = False) -> None:
        super().__init__(trainer=trainer, adaptation=adaptation, checkpoint=checkpoint,
                         checkpoint_sha256=checkpoint_sha256, allow_unpinned=allow_unpinned)
        self.name = arch
        self.cls = model_class(arch)
        reason = unavailable_reason(arch)
        if reason:
            raise ModelUnavailableError(f"braindecode model {arch!r} cannot run in eegbench: "
                                        f"{reason}.")
        self.arch_params = dict(arch_params or {})
        self.family = family or family_of(arch)
        # a feature tap returns tokens: average them; a headless output is flattened
        self.pooling = pooling or ("mean" if "return_features" in inspect.signature(
            self.cls.forward).parameters else "flatten")
        self.key_layout = key_layout
        fields = dict(contract or DEFAULT_CONTRACTS.get(arch, {}))
        for key in ("vocabulary", "ch_names"):
            if key in fields:
                fields[key] = tuple(fields[key])
        self.contract = InputContract(**fields)

    def build_network(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:
        """Instantiate the braindecode class for the adapted input."""
        kwargs: dict[str, Any] = {"n_outputs": signal.n_outputs,
                                  "n_times": adapter.out_times, "sfreq": adapter.out_sfreq}
        accepted = inspect.signature(self.cls.__init__).parameters
        names = list(adapter.out_ch_names)
        if ("chs_info" in accepted and signal.ch_names and self.name not in NO_CHS_INFO
                and adapter.mode in ("identity", "select", "reorder")):
            kwargs["chs_info"] = chs_info_from(signal, names)
        kwargs["n_chans"] = len(names)
        kwargs = {k: v for k, v in kwargs.items() if k in accepted or any(
            p.kind == p.VAR_KEYWORD for p in accepted.values())}
        bank = ({n: list(map(float, signal.ch_pos.get(n, (0.0, 0.0, 0.0)))) for n in names}
                if self.name in POSITION_BANK else None)
        try:
            if bank is None:
                return self.cls(**kwargs, **self.arch_params)
            with offline_position_bank(bank):
                return self.cls(**kwargs, **self.arch_params)
        except Exception as err:
            raise ValueError(
                f"braindecode {self.name} could not be built for this dataset ({len(names)} "
                f"channels, {adapter.out_times} samples at {adapter.out_sfreq:g} Hz, "
                f"{signal.n_outputs} classes): {type(err).__name__}: {err}") from err

    def build_encoder(self, signal: SignalSpec, adapter: InputAdapter) -> nn.Module:
        """Return the network without its classifier."""
        net = self.build_network(signal, adapter)
        extra = {}
        if "ch_names" in inspect.signature(net.forward).parameters:  # e.g. LaBraM
            extra["ch_names"] = list(adapter.out_ch_names)
        return ZooEncoder(net, self.pooling, extra)

    def load_encoder_weights(self, encoder: nn.Module, source: str) -> None:
        """Load a checkpoint into the braindecode network (classifier keys skipped)."""
        from eegbench.models.weights.loading import KEY_MAPPINGS, load_weights

        load_weights(encoder.net, source, sha256=self.checkpoint_sha256,
                     mapping=KEY_MAPPINGS[self.key_layout], skip_prefixes=("final_layer.",),
                     allow_unpinned=self.allow_unpinned)


def build_braindecode(arch: str | None = None, **params: Any) -> BraindecodeZooModel:
    """Any braindecode model by class name (``model.params.arch=EEGNeX``)."""
    if not arch:
        raise ValueError("The 'braindecode' model needs a class name: "
                         "model.params.arch=<braindecode model> (`python -m eegbench.models "
                         "list` shows them all).")
    return BraindecodeZooModel(arch, **params)


def factory_by_name(name: str) -> Callable[..., BraindecodeZooModel]:
    """Return the factory of ``braindecode.<Class>`` (the architecture fixed)."""
    arch = name.removeprefix("braindecode.")

    def factory(**params: Any) -> BraindecodeZooModel:
        given = params.pop("arch", arch)
        if given != arch:
            raise ValueError(f"Invalid value for the 'arch' parameter: the model "
                             f"'braindecode.{arch}' is {arch!r}, but got {given!r}.")
        return BraindecodeZooModel(arch, **params)

    factory.__name__ = f"build_braindecode_{arch}"
    factory.__doc__ = f"braindecode {arch} through the generic wrapper."
    return factory
