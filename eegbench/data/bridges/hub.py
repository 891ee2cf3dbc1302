"""Hugging Face Hub bridge: a windowed braindecode dataset on the Hub as an eegbench dataset.

A dataset config (``conf/dataset/hub_*.yaml``) selects it instead of a recipe::

    name: hub_arithmetic_zyma2019
    hub:
      repo_id: braindecode/arithmetic_zyma2019     # or a local folder: /path, ./path, ~/path
      revision: 8359206e7e1b3d1f068033348e291d6677be1920   # a full commit: required
      classes: [rest, arithmetic]  # optional: names of the integer targets 0, 1, ...
      columns: {}                  # optional: eegbench column -> the dataset's metadata column
    task: rest_vs_arithmetic
    fixed_split: {...}             # the published split (protocol=fixed_split)

The repository is in braindecode's hub format (``BaseConcatDataset.push_to_hub``: a
``dataset.zarr`` store with one group per recording, BIDS-like sidecars, ``format_info.json``);
:mod:`eegbench.data.bridges.hub_pull` pulls the pinned commit and checks every file. The store
is read with braindecode's own zarr readers (``braindecode.datasets.bids.hub_io``, the ones
``pull_from_hub`` uses), streamed recording by recording, without braindecode's float64
memory maps. Both windowed types are read: ``WindowsDataset`` (pre-cut windows) and
``EEGWindowsDataset`` (a continuous recording with window start / stop samples); continuous
``RawDataset`` stores are refused (they have no windows).

Mapping onto the windows table (:class:`eegbench.data.windows.WindowsDataset`), per window, in
the store's order: ``subject``, ``session``, ``run`` from the recording's description or the
window metadata (braindecode's ``get_metadata()``: window metadata plus description columns);
``label`` from ``target`` (with ``classes``, integer targets index the names; without, the
sorted distinct targets are the classes); ``onset_s`` = ``i_start_in_trial / sfreq``. A dataset
without ``session`` or ``run`` gets ``"0"`` (logged, and listed in ``info["hub"]["filled"]``),
so leave-one-subject-out, within-subject and fixed splits apply; one without ``subject`` is
refused unless ``columns.subject`` names another column. The other description and metadata
columns (e.g. a published ``train`` flag) are kept, so ``fixed_split.key`` can name them.
Signals are converted from SI units (MNE's convention) to eegbench's stored units
(:mod:`eegbench.data.units`), per channel type. The windows are used as published: the
``preprocess`` group (resampling, filters) is not applied to them; the models read the
dataset's own sampling rate from ``info``.

The converted windows are cached content-addressed (``<cache_root>/<name>/<key>/``, built
atomically by :func:`eegbench.atomic.build_entry`); the key hashes the repository id, the pinned
commit, the sha256 of every pulled file, the mapping options and this bridge's code.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eegbench import atomic
from eegbench.code_fingerprint import source_hash, static_closure
from eegbench.data.bridges.hub_pull import HubPullError, Snapshot, is_local, pull_snapshot
from eegbench.data.errors import RecipeError
from eegbench.data.units import UNIT_NAME, UNIT_SCALE
from eegbench.data.windows import ENTRY_FILES, WindowsDataset, read_entry, shape_problem

logger = logging.getLogger(__name__)

#: Bump when the layout or the meaning of a hub cache entry changes.
HUB_FORMAT_VERSION = 1

#: Keys of a ``dataset.hub`` node.
NODE_KEYS = ("repo_id", "revision", "classes", "columns", "task_type", "split")

#: The eegbench columns a ``columns`` mapping may redirect, and their defaults.
MAPPED_COLUMNS = {"subject": "subject", "session": "session", "run": "run", "target": "target"}

#: Columns of the windows table the bridge writes itself (a dataset column of the same name
#: is kept as ``hub_<name>``).
OWN_COLUMNS = ("subject", "session", "run", "label", "label_name", "onset_s", "event_code",
               "source", "duration_s")

#: braindecode's window bookkeeping columns (not copied into the table).
WINDOW_COLUMNS = ("i_window_in_trial", "i_start_in_trial", "i_stop_in_trial", "target")


def check_node(node: Mapping[str, Any]) -> None:
    """Check a ``dataset.hub`` node: known keys, a repository (or folder), plain options.

    Raises
    ------
    RecipeError
        Naming the unknown key or the malformed value.
    """
    unknown = sorted(set(node) - set(NODE_KEYS))
    if unknown:
        raise RecipeError(f"Unknown key(s) {unknown} in dataset.hub; allowed keys are "
                          f"{list(NODE_KEYS)}.")
    if not node.get("repo_id"):
        raise RecipeError("dataset.hub lacks the 'repo_id' key (owner/name on the Hub, or a "
                          "local folder).")
    classes = node.get("classes")
    if classes is not None and (not isinstance(classes, list | tuple) or not classes
                                or len(set(map(str, classes))) != len(classes)):
        raise RecipeError(f"Invalid value for the 'dataset.hub.classes' parameter: expected a "
                          f"list of distinct class names, but got {classes!r}.")
    columns = node.get("columns") or {}
    if not isinstance(columns, Mapping) or set(columns) - set(MAPPED_COLUMNS) \
            or not all(isinstance(v, str) for v in columns.values()):
        raise RecipeError(f"Invalid value for the 'dataset.hub.columns' parameter: expected a "
                          f"mapping from {sorted(MAPPED_COLUMNS)} to the dataset's column "
                          f"names, but got {columns!r}.")
    task_type = node.get("task_type", "classification")
    if task_type not in ("classification", "regression"):
        raise RecipeError(f"Invalid value for the 'dataset.hub.task_type' parameter. Allowed "
                          f"values are ['classification', 'regression'], but got {task_type!r}.")


def bridge_code_fingerprint() -> str:
    """Hash of this module and the ``eegbench.data`` modules it imports (part of the key)."""
    closure = static_closure([__name__], ["eegbench"])
    modules = {name: source_hash(path) for name, path in sorted(closure.items())
               if name.startswith("eegbench.data")}
    return hashlib.sha256(json.dumps(sorted(modules.items())).encode()).hexdigest()[:16]


def hub_key(node: Mapping[str, Any], snapshot: Snapshot) -> str:
    """Content hash naming the cache entry of a pulled hub dataset."""
    payload = {
        "format": HUB_FORMAT_VERSION, "repo_id": snapshot.repo_id, "commit": snapshot.commit,
        "files": snapshot.content_sha256,
        "mapping": {"classes": [str(c) for c in node.get("classes") or []] or None,
                    "columns": dict(sorted((node.get("columns") or {}).items()))},
        "code": bridge_code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


@dataclass
class _Recording:
    """One recording (zarr group) of the store, data not yet read."""

    data: Any  # zarr.Array: (n_windows, n_ch, n_times) or continuous (n_ch, n_samples)
    metadata: pd.DataFrame
    description: pd.Series
    info: Any  # mne.Info
    windowed: bool  # True: pre-cut windows; False: continuous with window indices


def _zarr_path(folder: Path) -> tuple[Path, dict[str, Any]]:
    """Where ``dataset.zarr`` is (as ``pull_from_hub`` looks for it) and ``format_info.json``."""
    info_path = folder / "format_info.json"
    format_info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    if format_info and format_info.get("format") != "zarr":
        raise RecipeError(f"{info_path}: format {format_info.get('format')!r}; braindecode's hub "
                          "format stores 'zarr'.")
    pipeline = format_info.get("pipeline_name", "braindecode")
    for candidate in (folder / "sourcedata" / pipeline / "dataset.zarr",
                      folder / "derivatives" / pipeline / "dataset.zarr",
                      folder / "dataset.zarr"):
        if candidate.is_dir():
            return candidate, format_info
    raise RecipeError(f"{folder} holds no dataset.zarr (looked in sourcedata/{pipeline}, "
                      f"derivatives/{pipeline} and the top folder): not a braindecode hub "
                      "dataset.")


def _recordings(zarr_path: Path) -> list[_Recording]:
    """Open every recording group with braindecode's own zarr readers (nothing loaded)."""
    import mne

    from eegbench._compat import ensure_torchaudio

    try:
        import zarr
    except ImportError as err:
        raise RecipeError("Reading braindecode's hub format needs zarr 3: `pip install "
                          "'eegbench[bridges]'` (or `pip install 'zarr>=3'`).") from err

    ensure_torchaudio()
    from braindecode.datasets.bids.hub_io import (
        _load_eegwindows_from_zarr,
        _load_windows_from_zarr,
        _restore_nan_from_json,
    )

    root = zarr.open(str(zarr_path), mode="r")
    kind = root.attrs["dataset_type"]
    if kind not in ("WindowsDataset", "EEGWindowsDataset"):
        raise RecipeError(f"{zarr_path}: braindecode dataset type {kind!r} holds continuous "
                          "recordings without windows; the hub bridge reads windowed datasets "
                          "(WindowsDataset, EEGWindowsDataset).")
    out = []
    for i in range(int(root.attrs["n_datasets"])):
        grp = root[f"recording_{i}"]
        if kind == "WindowsDataset":
            data, metadata, description, info_dict, _ = _load_windows_from_zarr(grp, False)
        else:
            data, metadata, description, info_dict, targets_from, _ = \
                _load_eegwindows_from_zarr(grp, False)
            if targets_from != "metadata":
                raise RecipeError(f"{zarr_path} recording_{i}: targets come from channels "
                                  f"({targets_from!r}); the bridge reads one target per window "
                                  "from the window metadata.")
        info = mne.Info.from_json_dict(_restore_nan_from_json(info_dict))
        out.append(_Recording(data, metadata, description, info, kind == "WindowsDataset"))
    if not out:
        raise RecipeError(f"{zarr_path} holds no recording.")
    return out


def _window_table(recordings: list[_Recording]) -> pd.DataFrame:
    """The table of braindecode's ``get_metadata()``: window metadata and descriptions."""
    frames = []
    for rec in recordings:
        frame = rec.metadata.reset_index(drop=True).copy()
        for key, value in rec.description.items():  # as get_metadata: descriptions win
            frame[key] = value
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _labels(targets: pd.Series, classes: list[str] | None, where: str
            ) -> tuple[np.ndarray, list[str]]:
    """Integer labels and class names from the ``target`` column."""
    values = targets.to_numpy()
    if classes is not None:
        as_int = pd.to_numeric(targets, errors="coerce")
        bad = sorted({str(v) for v, n in zip(values, as_int, strict=True)
                      if not (n == n and float(n).is_integer() and 0 <= n < len(classes))})
        if bad:
            raise RecipeError(f"{where}: targets {bad[:10]} are not indices of dataset.hub."
                              f"classes {list(classes)} (0..{len(classes) - 1}).")
        return as_int.to_numpy().astype(np.int64), [str(c) for c in classes]
    numeric = pd.to_numeric(targets, errors="coerce")
    if numeric.notna().all():
        if not np.all(np.mod(numeric.to_numpy(dtype=float), 1) == 0):
            raise RecipeError(f"{where}: the targets are real numbers (a regression target); "
                              "the windows table holds class labels, so regression datasets are "
                              "not read by the bridge yet.")
        distinct = sorted({int(v) for v in numeric})
        names = [str(v) for v in distinct]
        return np.searchsorted(distinct, numeric.to_numpy().astype(np.int64)), names
    names = sorted({str(v) for v in values})
    return np.searchsorted(names, [str(v) for v in values]).astype(np.int64), names


def _column(table: pd.DataFrame, node: Mapping[str, Any], name: str, where: str,
            filled: list[str]) -> pd.Series:
    column = (node.get("columns") or {}).get(name, MAPPED_COLUMNS[name])
    if column in table.columns:
        return table[column]
    if name in ("session", "run"):
        filled.append(name)
        logger.info("%s has no %r column: every window gets %s '0'", where, column, name)
        return pd.Series(["0"] * len(table))
    raise RecipeError(f"{where}: no {column!r} column in the window metadata or the recording "
                      f"descriptions (found {sorted(table.columns)}); name the column holding "
                      f"the {name} with dataset.hub.columns.{name}.")


def _as_id(value: Any) -> str:
    """A subject / session / run id as text (``3.0`` read back from a table is ``3``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def hub_windows(snapshot: Snapshot, node: Mapping[str, Any], out: Path | None = None
                ) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """Read a pulled braindecode hub dataset as eegbench windows (no caching).

    Parameters
    ----------
    snapshot : Snapshot
        The pulled files (:func:`eegbench.data.bridges.hub_pull.pull_snapshot`).
    node : mapping
        The ``dataset.hub`` node (``classes``, ``columns``).
    out : Path, optional
        Write the windows into ``out`` (a ``.npy`` file, memory-mapped while filled) instead
        of memory.

    Returns
    -------
    X : ndarray, shape (n_windows, n_channels, n_times), float32, eegbench units
    meta : DataFrame
        subject, session, run, label, label_name, onset_s, event_code, source, and the
        dataset's other metadata / description columns.
    info : dict
        ch_names, ch_types, ch_pos, ch_loc, sfreq, units, modality, classes, hub.
    """
    where = f"hub dataset {snapshot.repo_id}" + (f"@{snapshot.commit}" if snapshot.commit
                                                 else "")
    zarr_path, format_info = _zarr_path(snapshot.folder)
    recordings = _recordings(zarr_path)
    first = recordings[0].info
    ch_names, sfreq = list(first.ch_names), float(first["sfreq"])
    ch_types = first.get_channel_types()
    lengths = set()
    for i, rec in enumerate(recordings):
        if list(rec.info.ch_names) != ch_names or float(rec.info["sfreq"]) != sfreq:
            raise RecipeError(f"{where}: recording_{i} has channels {rec.info.ch_names} at "
                              f"{rec.info['sfreq']} Hz, recording_0 {ch_names} at {sfreq} Hz; "
                              "the windows table needs one channel set and sampling rate.")
        if rec.windowed:
            lengths.add(int(rec.data.shape[-1]))
        else:
            lengths |= set((rec.metadata["i_stop_in_trial"]
                            - rec.metadata["i_start_in_trial"]).astype(int))
    if len(lengths) != 1:
        raise RecipeError(f"{where}: windows of {sorted(lengths)} samples; the windows table "
                          "needs one window length.")
    unsupported = sorted(set(ch_types) - set(UNIT_SCALE))
    if unsupported:
        raise RecipeError(f"{where}: channel type(s) {unsupported} have no standard unit; "
                          f"allowed types are {sorted(UNIT_SCALE)}.")
    n_times = lengths.pop()
    n_windows = sum(len(rec.metadata) for rec in recordings)
    shape = (n_windows, len(ch_names), n_times)
    X = (np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=shape)
         if out is not None else np.empty(shape, dtype=np.float32))
    scale = np.array([UNIT_SCALE[t] for t in ch_types], dtype=np.float64)[None, :, None]
    start = 0
    for i, rec in enumerate(recordings):
        n = len(rec.metadata)
        if rec.windowed:
            if rec.data.shape[0] != n:
                raise RecipeError(f"{where}: recording_{i} has {rec.data.shape[0]} windows but "
                                  f"{n} metadata rows.")
            block = np.asarray(rec.data[:], dtype=np.float32)
        else:
            signal = np.asarray(rec.data[:], dtype=np.float32)
            block = np.stack([signal[:, a:b] for a, b in zip(
                rec.metadata["i_start_in_trial"].astype(int),
                rec.metadata["i_stop_in_trial"].astype(int), strict=True)])
        # as braindecode serves them (float32, SI units), then to eegbench's units
        X[start:start + n] = (block.astype(np.float64) * scale).astype(np.float32)
        start += n
    if out is not None:
        X.flush()
    table = _window_table(recordings)
    filled: list[str] = []
    ids = {name: [_as_id(v) for v in _column(table, node, name, where, filled)]
           for name in ("subject", "session", "run")}
    classes = node.get("classes")
    labels, names = _labels(_column(table, node, "target", where, filled), classes, where)
    if "i_start_in_trial" not in table.columns:
        raise RecipeError(f"{where}: the window metadata has no i_start_in_trial column.")
    origin = f"{snapshot.repo_id}@{snapshot.commit[:12]}" if snapshot.commit else snapshot.repo_id
    recording_of = np.repeat(np.arange(len(recordings)), [len(r.metadata) for r in recordings])
    meta = pd.DataFrame({
        **ids, "label": labels, "label_name": [names[i] for i in labels],
        "onset_s": table["i_start_in_trial"].astype(float).to_numpy() / sfreq,
        "event_code": [str(v) for v in table[(node.get("columns") or {}).get(
            "target", "target")]],
        "source": [f"{origin}:recording_{i}" for i in recording_of],
    })
    mapped = {(node.get("columns") or {}).get(k, v) for k, v in MAPPED_COLUMNS.items()}
    for column in table.columns:
        if column in WINDOW_COLUMNS or column in mapped:
            continue
        name = f"hub_{column}" if column in OWN_COLUMNS else str(column)
        meta[name] = table[column].to_numpy()
    info = {
        "ch_names": ch_names, "ch_types": ch_types,
        "ch_pos": {ch["ch_name"]: ch["loc"][:3].tolist() for ch in first["chs"]},
        "ch_loc": {ch["ch_name"]: ch["loc"].tolist() for ch in first["chs"]},
        "sfreq": sfreq, "units": {t: UNIT_NAME[t] for t in sorted(set(ch_types))},
        "modality": "meg" if {"mag", "grad"} & set(ch_types) else "eeg",
        "classes": names,
        "hub": {"repo_id": snapshot.repo_id, "commit": snapshot.commit,
                "files_sha256": snapshot.content_sha256, "n_files": len(snapshot.files),
                "n_recordings": len(recordings), "filled": sorted(set(filled)),
                "braindecode_version": format_info.get("braindecode_version")},
    }
    return X, meta, info


def _select_subjects(ds: WindowsDataset, subjects: list[str] | None, name: str
                     ) -> WindowsDataset:
    if subjects is None:
        return ds
    found = sorted(set(ds.meta["subject"]))
    wanted = [str(s) for s in subjects]
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise RecipeError(f"Invalid value for the 'dataset.subjects' parameter of hub dataset "
                          f"{name}: subject(s) {missing} do not exist. Allowed values are "
                          f"{found}.")
    keep = np.flatnonzero(ds.meta["subject"].isin(wanted).to_numpy())
    return WindowsDataset(np.asarray(ds.X[keep]), ds.meta.iloc[keep].reset_index(drop=True),
                          dict(ds.info))


def load_hub(node: Mapping[str, Any], cache_root: str | Path, subjects: list[str] | None = None,
             name: str | None = None, hub_cache: str | Path | None = None) -> WindowsDataset:
    """Return the windows of a pinned hub dataset, pulling and converting it if needed.

    Parameters
    ----------
    node : mapping
        The ``dataset.hub`` node: ``repo_id`` (or a local folder), ``revision`` (a full
        commit, required for a repository), optional ``classes`` and ``columns``.
    cache_root : str or Path
        eegbench's cache folder (the entry is ``<cache_root>/<name>/<key>/``).
    subjects : list of str, optional
        Keep these subjects only (after the whole dataset is converted and cached).
    name : str, optional
        The dataset's name (the entry's folder).
    hub_cache : str or Path, optional
        huggingface_hub's cache folder (default: its own).

    Raises
    ------
    RecipeError
        A malformed node, an unpinned or mismatched revision, a failed or corrupt pull
        (:class:`~eegbench.data.bridges.hub_pull.HubPullError`), a store the windows table
        cannot hold (regression targets, several window lengths or channel sets).
    """
    check_node(node)
    repo_id = str(node["repo_id"])
    if node.get("task_type", "classification") == "regression":
        raise RecipeError(f"hub dataset {repo_id} has a regression target (dataset.hub."
                          "task_type: regression); the windows table and the protocols hold "
                          "class labels, so it is not read yet.")
    snapshot = pull_snapshot(repo_id, node.get("revision"), hub_cache)
    label = name or ("hub_local" if is_local(repo_id) else "hub_" + repo_id.replace("/", "__"))
    key = hub_key(node, snapshot)
    entry = Path(cache_root) / label / key

    def problem(path: Path) -> str | None:
        return atomic.entry_problem(path, extra=shape_problem)

    def write(tmp: Path) -> tuple[dict[str, Any], list[str]]:
        X, meta, info = hub_windows(snapshot, node, out=tmp / "X.npy")
        meta.to_csv(tmp / "meta.csv", index=False)
        logger.info("built hub cache entry %s (%d windows)", entry, len(X))
        return ({**info, "n_windows": len(X), "x_nbytes": int(X.nbytes), "recipe": label,
                 "key": key, "preprocess": None, "format": HUB_FORMAT_VERSION},
                list(ENTRY_FILES))

    if problem(entry) is None:
        logger.info("using cache entry %s", entry)
    else:
        atomic.build_entry(entry, write, problem, what="hub cache entry")
    return _select_subjects(read_entry(entry), subjects, label)


__all__ = ["HubPullError", "check_node", "hub_key", "hub_windows", "load_hub"]
