"""Every MOABB dataset by name: its paradigm, subjects and sessions, without downloading.

``python -m eegbench.data list --moabb`` prints one line per dataset class of
:mod:`moabb.datasets` (MOABB's ``dataset_list``): the class name, MOABB's paradigm, the
default eegbench paradigm class (:data:`DEFAULT_PARADIGMS`), the number of subjects and of
sessions, read from the class's attributes (instantiating a MOABB dataset reads no file).

``dataset=moabb/<ClassName>`` on the command line selects such a dataset with its paradigm's
default: :func:`moabb_dataset_overrides` turns it into overrides of the MOABB bridge's
dataset configuration (``conf/dataset/moabb_physionetmi_lr.yaml`` as the template).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

logger = logging.getLogger(__name__)

#: MOABB's paradigm attribute -> the eegbench default paradigm class and task name.
DEFAULT_PARADIGMS = {"imagery": ("MotorImagery", "motor_imagery"),
                     "p300": ("P300", "target_vs_nontarget"),
                     "ssvep": ("SSVEP", "ssvep"),
                     "cvep": ("CVEP", "cvep")}
#: The dataset configuration whose MOABB node ``dataset=moabb/<ClassName>`` replaces.
TEMPLATE = "moabb_physionetmi_lr"


def moabb_catalog() -> list[dict[str, Any]]:
    """Return one entry per MOABB dataset class (name, paradigm, subjects, sessions)."""
    return [dict(e) for e in _catalog()]


@functools.cache
def _catalog() -> tuple[dict[str, Any], ...]:
    from moabb.datasets.utils import dataset_list

    entries = []
    for cls in sorted(dataset_list, key=lambda c: c.__name__):
        try:
            ds = cls()
        except Exception as err:  # noqa: BLE001 - a class that needs arguments is listed so
            entries.append({"dataset": cls.__name__, "paradigm": "?", "default": "",
                            "subjects": "?", "sessions": "?",
                            "note": f"not instantiable without arguments ({err})"})
            continue
        paradigm = str(getattr(ds, "paradigm", "?"))
        entries.append({"dataset": cls.__name__, "paradigm": paradigm,
                        "default": DEFAULT_PARADIGMS.get(paradigm, ("", ""))[0],
                        "subjects": len(getattr(ds, "subject_list", []) or []),
                        "sessions": getattr(ds, "n_sessions", "?"), "note": ""})
    return tuple(entries)


def format_catalog(entries: list[dict[str, Any]]) -> str:
    """Return the catalogue as an aligned text table."""
    header = ["dataset", "paradigm", "default", "subjects", "sessions", "note"]
    rows = [header] + [[str(e[k]) for k in header] for e in entries]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n"
                   for r in rows)


def moabb_dataset_overrides(override: str) -> list[str]:
    """Turn ``dataset=moabb/<ClassName>`` into overrides of the MOABB template config.

    Other overrides are returned unchanged (as a one-element list). The class must be a
    MOABB dataset with a paradigm in :data:`DEFAULT_PARADIGMS`; the error lists the names.
    """
    key, _, value = override.partition("=")
    if key.lstrip("+") != "dataset" or not value.startswith("moabb/"):
        return [override]
    name = value.removeprefix("moabb/")
    by_name = {e["dataset"]: e for e in moabb_catalog()}
    entry = by_name.get(name)
    if entry is None or not entry["default"]:
        usable = sorted(n for n, e in by_name.items() if e["default"])
        raise ValueError(f"Invalid value for the 'dataset' parameter: moabb/{name} is not a "
                         f"MOABB dataset with a default paradigm. Allowed values are "
                         f"moabb/<name> for {usable}.")
    paradigm, task = DEFAULT_PARADIGMS[entry["paradigm"]]
    return [f"dataset={TEMPLATE}", f"dataset.name=moabb_{name.lower()}",
            f"dataset.moabb.dataset={name}", f"dataset.moabb.paradigm={paradigm}",
            f"dataset.task={task}"]
