"""The precomputed model table behind ``eegbench models list`` (read without importing torch).

Counting parameters means building every network (some have hundreds of millions of
parameters); the counts depend only on the code and the input shape, so
:mod:`eegbench.models.parameter_counts` computes them once into ``parameter_counts.json``
beside this module: eegbench models at :data:`REFERENCE_INPUT` (one standardized PhysioNet
eegmat window), braindecode models at braindecode's own reference input, with what the
braindecode table shows (family, modality, status). This module reads the file and renders
the tables; a file written under other torch / braindecode versions is not used.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from eegbench._compat import ensure_torchaudio

TABLE_PATH = Path(__file__).with_name("parameter_counts.json")

#: Channels of the reference input: the standardized eegmat recording
#: (data_recipes/physionet_eegmat.yaml, channels.pick).
REFERENCE_CHANNELS = ("Fp1", "Fp2", "F3", "F4", "F7", "F8", "T7", "T8", "C3", "C4", "P7", "P8",
                      "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz")
#: The input every eegbench model is counted for (one standardized eegmat window: 5 s at the
#: 128 Hz of conf/preprocess/mne.yaml, rest vs arithmetic).
REFERENCE_INPUT = {"n_chans": len(REFERENCE_CHANNELS), "n_times": 640, "sfreq": 128.0,
                   "n_outputs": 2}
#: Why a braindecode model that uses torchaudio cannot run when torchaudio cannot be imported.
TORCHAUDIO_REASON = ("needs torchaudio, which cannot be imported with this torch build "
                     "(install a matching torch/torchaudio pair to use it)")
#: Packages whose versions the counts depend on.
COUNTED_WITH = ("torch", "braindecode")


def installed_versions() -> dict[str, str]:
    """Versions of :data:`COUNTED_WITH` as installed (read from the metadata, no import)."""
    out = {}
    for package in COUNTED_WITH:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def load_table(path: Path = TABLE_PATH) -> dict[str, Any] | None:
    """Return the precomputed table, or None when absent or made with other versions."""
    if not path.is_file():
        return None
    table = json.loads(path.read_text(encoding="utf-8"))
    return table if table.get("versions") == installed_versions() else None


def torchaudio_importable() -> bool:
    """True when torchaudio is installed and loads against this torch (imports it then)."""
    if importlib.util.find_spec("torchaudio") is None:
        return False
    return ensure_torchaudio()


def format_parameters(n: int | None) -> str:
    """``12.3 k`` / ``4.56 M``; ``?`` when unknown."""
    if n is None:
        return "?"
    return f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.1f} k"


def zoo_status(entry: Mapping[str, Any], torchaudio_ok: bool = True) -> str:
    """The status cell of one braindecode model (``runs``, ``cannot run: ...``, notes)."""
    reason = entry.get("unavailable") or (
        TORCHAUDIO_REASON if entry.get("needs_torchaudio") and not torchaudio_ok else "")
    if reason:
        status = f"cannot run: {reason}"
    elif entry.get("requirement"):
        status = f"runs on data with {entry['requirement']}"
    else:
        status = "runs"
    if entry.get("too_large"):
        status += f" (not in the CPU conformance run: {entry['too_large']})"
    elif not reason and entry.get("heavy"):
        status += " (conformance test: slow)"
    return status


def zoo_markdown(entries: Mapping[str, Mapping[str, Any]], torchaudio_ok: bool = True) -> str:
    """The Markdown table of braindecode models (``entries``: name -> table entry)."""
    lines = ["| braindecode model | family | modality | parameters (reference input) | "
             "status |", "|---|---|---|---|---|"]
    for name in sorted(entries, key=str.lower):
        e = entries[name]
        lines.append(f"| `{name}` | {e['family']} | {e['modality']} | "
                     f"{format_parameters(e['n_parameters'])} ({e['reference_input']}) | "
                     f"{zoo_status(e, torchaudio_ok)} |")
    return "\n".join(lines)


def eegbench_markdown(rows: list[tuple[str, str, int | None]]) -> str:
    """The Markdown table of eegbench models: ``(label, family, parameters)`` rows."""
    reference = ", ".join(f"{k}={v}" for k, v in REFERENCE_INPUT.items())
    lines = ["| eegbench model | family | parameters (reference input) |", "|---|---|---|"]
    for label, family, n in rows:
        shown = "-" if n is None and "any" in family else format_parameters(n)
        lines.append(f"| {label} | {family} | {shown} |")
    lines += ["", f"eegbench models are counted at the reference input ({reference}: one "
              "standardized PhysioNet eegmat window), with random weights."]
    return "\n".join(lines)
