"""MOABB bridge: any MOABB dataset with a MOABB paradigm as an eegbench dataset.

A dataset config (``conf/dataset/*.yaml``) selects it instead of a recipe::

    name: moabb_physionetmi_lr
    moabb:
      dataset: PhysionetMI           # a class of moabb.datasets (or of a plugin, see below)
      paradigm: LeftRightImagery     # a class of moabb.paradigms
      dataset_params: {}             # keyword arguments of the dataset class
      paradigm_params: {}            # keyword arguments of the paradigm (fmin, fmax, tmin...)
    task: left_vs_right
    subjects: null

MOABB reads (and, where its files are missing, downloads) the recordings into its own
folders (``MNE_DATA`` / ``MNE_DATASETS_<SIGN>_PATH``) and cuts the epochs with the paradigm
(its band-pass and time interval); eegbench resamples to ``preprocess.sfreq`` through the
paradigm's ``resample``, converts volts to microvolts, keeps ``round((tmax - tmin) * sfreq)``
samples per window (the end-exclusive convention of the recipes) and stores windows, labels,
subjects, sessions and runs in the same content-addressed cache layout as the recipes, so every
protocol applies unchanged. Class order is the sorted label names.

Configuration never names code: ``dataset`` and ``paradigm`` are class *names*, looked up
among the dataset classes of :mod:`moabb.datasets` (plus the classes that installed
distributions register under the ``eegbench.moabb_datasets`` entry-point group) and the
paradigm classes of :mod:`moabb.paradigms`; a ``module:attr`` or dotted value is refused, and
``dataset_params`` / ``paradigm_params`` hold plain values only (numbers, strings, booleans,
null, and lists of them). From Python, a class object may be passed instead of a name.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eegbench import atomic
from eegbench.code_fingerprint import source_hash, static_closure
from eegbench.data.errors import RecipeError
from eegbench.data.standardize import PreprocessSpec
from eegbench.data.units import UNIT_NAME, UNIT_SCALE
from eegbench.data.windows import ENTRY_FILES, WindowsDataset, read_entry, shape_problem

logger = logging.getLogger(__name__)

#: Bump when the layout or the meaning of a bridge cache entry changes (2: the manifest
#: carries its self-checksum, manifest_sha256).
BRIDGE_FORMAT_VERSION = 2


def _name(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else str(value)


#: Former MOABB class names still found in papers and configs -> the current class name.
LEGACY_NAMES = {"SSVEPExo": "Kalunga2016"}


#: Entry-point group under which installed distributions register their own MOABB dataset
#: classes (``name = "package.module:Class"`` in the distribution's metadata).
DATASET_PLUGIN_GROUP = "eegbench.moabb_datasets"

#: Keys of a ``dataset.moabb`` node.
NODE_KEYS = ("dataset", "paradigm", "dataset_params", "paradigm_params")


def _plugin_datasets() -> dict[str, Any]:
    """Entry points of :data:`DATASET_PLUGIN_GROUP`, by name (loaded only when selected)."""
    return {ep.name: ep for ep in entry_points(group=DATASET_PLUGIN_GROUP)}


def _classes_of(module: Any, base: type) -> list[str]:
    """Public names of ``module`` that are subclasses of ``base``."""
    return sorted(n for n in dir(module) if not n.startswith("_")
                  and isinstance(getattr(module, n), type) and issubclass(getattr(module, n), base))


def _pick_class(module: Any, name: Any, what: str, base: type,
                plugins: Mapping[str, Any] | None = None) -> type:
    """Return the ``base`` subclass of ``module`` (or a plugin's) named ``name``.

    ``name`` is a plain class name: a ``module:attr`` or dotted value (which would import
    code named by the configuration) is refused. From Python, a class may be given instead.

    Raises
    ------
    RecipeError
        If ``name`` is not a string naming such a class (the message lists the allowed ones).
    """
    if isinstance(name, type):
        return name
    parameter = f"'dataset.moabb.{what}' parameter"
    plugins = dict(plugins or {})
    if not isinstance(name, str):
        raise RecipeError(f"Invalid value for the {parameter}: expected a class name, but got "
                          f"{type(name).__name__} {name!r}.")
    if name in LEGACY_NAMES and not hasattr(module, name):
        logger.info("MOABB %s %s is now called %s", what, name, LEGACY_NAMES[name])
        name = LEGACY_NAMES[name]
    names = _classes_of(module, base)
    allowed = sorted({*names, *plugins})
    if ":" in name or "." in name:
        raise RecipeError(
            f"Invalid value for the {parameter}: {name!r} names code to import, which "
            f"configuration may not do. Allowed values are class names of {module.__name__}"
            + (f" or of the '{DATASET_PLUGIN_GROUP}' entry points of installed distributions"
               if what == "dataset" else "")
            + f": {allowed}.")
    if name in names:
        return getattr(module, name)
    if name in plugins:
        ep = plugins[name]
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise RecipeError(f"Entry point {name!r} of group {DATASET_PLUGIN_GROUP!r} "
                              f"({ep.value}) is not a subclass of {base.__module__}."
                              f"{base.__name__}.")
        return cls
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise RecipeError(f"Invalid value for the {parameter}: {name!r} is not a class of "
                      f"{module.__name__}.{hint} Allowed values are {allowed}.")


def _is_plain(value: Any) -> bool:
    """True for null, booleans, numbers, strings and (nested) lists of them."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    return isinstance(value, list | tuple) and all(_is_plain(v) for v in value)


def check_node(node: Mapping[str, Any]) -> None:
    """Check a ``dataset.moabb`` node: known keys, parameters holding plain values only.

    Raises
    ------
    RecipeError
        Naming the unknown key, or the parameter whose value is not plain (a mapping could
        carry an object specification such as ``_target_``).
    """
    unknown = sorted(set(node) - set(NODE_KEYS))
    if unknown:
        raise RecipeError(f"Unknown key(s) {unknown} in dataset.moabb; allowed keys are "
                          f"{list(NODE_KEYS)}.")
    for key in ("dataset", "paradigm"):
        if key not in node:
            raise RecipeError(f"dataset.moabb lacks the '{key}' key (a MOABB class name).")
    for key in ("dataset_params", "paradigm_params"):
        params = node.get(key) or {}
        if not isinstance(params, Mapping):
            raise RecipeError(f"Invalid value for the 'dataset.moabb.{key}' parameter: expected "
                              f"a mapping of keyword arguments, but got {params!r}.")
        for name, value in params.items():
            if not isinstance(name, str) or name.startswith("_") or not _is_plain(value):
                raise RecipeError(
                    f"Invalid value for the 'dataset.moabb.{key}.{name}' parameter: keyword "
                    "arguments must be plain values (numbers, strings, booleans, null or lists "
                    f"of them), but got {value!r}.")


def dataset_class(name: Any) -> type:
    """Return the MOABB dataset class selected by ``name`` (see :func:`_pick_class`)."""
    import moabb.datasets
    from moabb.datasets.base import BaseDataset

    return _pick_class(moabb.datasets, name, "dataset", BaseDataset, _plugin_datasets())


def paradigm_class(name: Any) -> type:
    """Return the MOABB paradigm class selected by ``name`` (see :func:`_pick_class`)."""
    import moabb.paradigms
    from moabb.paradigms.base import BaseProcessing

    return _pick_class(moabb.paradigms, name, "paradigm", BaseProcessing)


def _resolve_subjects(dataset: Any, subjects: list[str] | None, name: str) -> list[int]:
    """MOABB subject ids (integers) for the requested ids; every one must exist."""
    available = list(dataset.subject_list)
    if subjects is None:
        return available
    wanted = [int(s) if str(s).isdigit() and int(s) in available else None for s in subjects]
    missing = [s for s, w in zip(subjects, wanted, strict=True) if w is None]
    if missing:
        raise RecipeError(f"Invalid value for the 'dataset.subjects' parameter of MOABB dataset "
                          f"{name}: subject(s) {missing} do not exist. Allowed values are "
                          f"{available}.")
    return [w for w in wanted if w is not None]


def bridge_code_fingerprint() -> str:
    """Hash of this module and the ``eegbench.data`` modules it imports (part of the key).

    Their docstring-free syntax trees (:func:`eegbench.code_fingerprint.source_hash`), found
    by the static import closure, so a renamed or new module is covered automatically.
    """
    closure = static_closure([__name__], ["eegbench"])
    modules = {name: source_hash(path) for name, path in sorted(closure.items())
               if name.startswith("eegbench.data")}
    return hashlib.sha256(json.dumps(sorted(modules.items())).encode()).hexdigest()[:16]


def bridge_key(node: Mapping[str, Any], spec: PreprocessSpec, subjects: list[int]) -> str:
    """Content hash naming the cache entry of a MOABB dataset/paradigm selection."""
    import moabb

    payload = {
        "format": BRIDGE_FORMAT_VERSION, "moabb": moabb.__version__,
        "node": json.loads(json.dumps(dict(node), default=str)), "subjects": subjects,
        "preprocess": {k: v for k, v in asdict(spec).items()
                       if k not in PreprocessSpec.EXECUTION_FIELDS},
        "code": bridge_code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def moabb_windows(node: Mapping[str, Any], spec: PreprocessSpec,
                  subjects: list[str] | None = None
                  ) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """Epoch a MOABB dataset with a MOABB paradigm into eegbench windows (no caching).

    Parameters
    ----------
    node : mapping
        ``dataset`` and ``paradigm`` class names, optional ``dataset_params`` and
        ``paradigm_params``.
    spec : PreprocessSpec
        ``sfreq`` is passed to the paradigm as ``resample`` (unless the node sets it).
    subjects : list of str, optional
        Subject ids (MOABB's integers; ``"001"`` and ``1`` both select subject 1).

    Returns
    -------
    X : ndarray, shape (n_windows, n_channels, n_times), float32, microvolts
    meta : DataFrame
        subject, session, run, label, label_name, onset_s, event_code, source.
    info : dict
        ch_names, ch_types, ch_pos, sfreq, units, modality, classes.
    """
    check_node(node)
    ds_cls = dataset_class(node["dataset"])
    par_cls = paradigm_class(node["paradigm"])
    dataset = ds_cls(**dict(node.get("dataset_params") or {}))
    params = {"resample": spec.sfreq, **dict(node.get("paradigm_params") or {})}
    paradigm = par_cls(**params)
    if not paradigm.is_valid(dataset):
        raise RecipeError(f"MOABB paradigm {_name(node['paradigm'])} cannot be applied to dataset "
                          f"{_name(node['dataset'])} (paradigm {dataset.paradigm!r}); choose a "
                          "compatible paradigm.")
    ids = _resolve_subjects(dataset, subjects, _name(node["dataset"]))
    if len(paradigm.filters) != 1:
        raise RecipeError(f"MOABB paradigm {_name(node['paradigm'])} has {len(paradigm.filters)}"
                          " filter bands; the bridge takes single-band paradigms (eegbench's "
                          "filter-bank models build their own bands).")
    # Run by run (what paradigm.get_data does inside), so that each window keeps its onset in
    # its own recording rather than in MOABB's concatenation of all runs.
    process = paradigm.make_process_pipelines(dataset, return_epochs=True)[0]
    labeller = paradigm.make_labels_pipeline(dataset, return_epochs=True)
    data = dataset.get_data(subjects=ids, process_pipeline=process)
    parts, rows, epochs = [], [], None
    for subject, sessions in data.items():
        for session, runs in sessions.items():
            for run, run_epochs in runs.items():
                if run_epochs is None:  # no selected event in this run
                    continue
                epochs = run_epochs
                parts.append(epochs.get_data(copy=False))
                sfreq = float(epochs.info["sfreq"])
                for sample, label in zip(epochs.events[:, 0], labeller.transform(epochs),
                                         strict=True):
                    rows.append((str(subject), str(session), str(run), str(label),
                                 float(sample) / sfreq))
    if epochs is None:
        raise RecipeError(f"MOABB dataset {_name(node['dataset'])} gives no epoch for subjects "
                          f"{ids} with paradigm {_name(node['paradigm'])}.")
    sfreq = float(epochs.info["sfreq"])
    tmin, tmax = float(epochs.tmin), float(epochs.tmax)
    # MOABB's interval includes both ends; recipes keep round((tmax - tmin) * sfreq) samples.
    n_len = int(round((tmax - tmin) * sfreq))
    ch_types = epochs.get_channel_types()
    unsupported = sorted(set(ch_types) - set(UNIT_SCALE))
    if unsupported:
        raise RecipeError(f"MOABB dataset {_name(node['dataset'])}: channel type(s) "
                          f"{unsupported} have no standard unit; allowed types are "
                          f"{sorted(UNIT_SCALE)}.")
    scale = np.array([UNIT_SCALE[t] for t in ch_types], dtype=np.float64)[None, :, None]
    X = np.concatenate([p[:, :, :n_len] for p in parts]) * scale
    X = X.astype(np.float32)
    classes = sorted({r[3] for r in rows})
    frame = pd.DataFrame(rows, columns=["subject", "session", "run", "label_name", "onset_s"])
    frame.insert(3, "label", [classes.index(lab) for lab in frame["label_name"]])
    frame["event_code"] = frame["label_name"]
    frame["source"] = [f"moabb:{_name(node['dataset'])}/{s}/{se}/{r}" for s, se, r in
                       zip(frame["subject"], frame["session"], frame["run"], strict=True)]
    info = {
        "ch_names": list(epochs.ch_names), "ch_types": ch_types,
        "ch_pos": {ch["ch_name"]: ch["loc"][:3].tolist() for ch in epochs.info["chs"]},
        "ch_loc": {ch["ch_name"]: ch["loc"].tolist() for ch in epochs.info["chs"]},
        "sfreq": sfreq, "units": {t: UNIT_NAME[t] for t in sorted(set(ch_types))},
        "modality": "meg" if {"mag", "grad"} & set(ch_types) else "eeg",
        "classes": classes, "moabb": {**json.loads(json.dumps(dict(node), default=str)),
                                      "interval": [tmin, tmin + n_len / sfreq]},
    }
    return X, frame, info


def load_moabb(node: Mapping[str, Any], spec: PreprocessSpec, cache_root: str | Path,
               subjects: list[str] | None = None, name: str | None = None) -> WindowsDataset:
    """Return the windows of a MOABB dataset/paradigm, building the cache entry if needed.

    The entry (``<cache_root>/<name>/<key>/``: ``X.npy``, ``meta.csv``, ``manifest.json``)
    has the layout of the recipe cache and is checked the same way before use.
    """
    check_node(node)
    ds_cls = dataset_class(node["dataset"])
    paradigm_class(node["paradigm"])  # an invalid paradigm fails before any data is read
    ids = _resolve_subjects(ds_cls(**dict(node.get("dataset_params") or {})), subjects,
                            _name(node["dataset"]))
    label = name or f"moabb_{_name(node['dataset'])}_{_name(node['paradigm'])}"
    key = bridge_key(node, spec, ids)
    entry = Path(cache_root) / label / key

    def problem(path: Path) -> str | None:
        # self-checksum only: MOABB reads the recordings, so no content key signs it
        return atomic.entry_problem(path, extra=shape_problem)

    def write(tmp: Path) -> tuple[dict[str, Any], list[str]]:
        X, meta, info = moabb_windows(node, spec, [str(i) for i in ids])
        np.save(tmp / "X.npy", X)
        meta.to_csv(tmp / "meta.csv", index=False)
        logger.info("built MOABB cache entry %s (%d windows)", entry, len(X))
        return ({**info, "n_windows": len(X), "x_nbytes": int(X.nbytes), "recipe": label,
                 "key": key, "preprocess": asdict(spec), "format": BRIDGE_FORMAT_VERSION},
                list(ENTRY_FILES))

    if problem(entry) is None:  # valid: used as is, nothing written (read-only cache)
        logger.info("using cache entry %s", entry)
    else:
        atomic.build_entry(entry, write, problem)
    return read_entry(entry)
