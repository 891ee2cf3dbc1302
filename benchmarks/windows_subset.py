"""Inputs of the training benchmarks: real eegmat windows (all, or a subset) and model configs.

The training benchmarks (``fold_parallel_speed.py``, ``training_throughput.py``) read the
standardized eegmat windows either through the recipe (``--data-root``, the cache is built
if needed) or from a subset file written by ``export`` (used where the recordings cannot be
copied, e.g. a GPU node that receives the working tree under a size limit). The subset keeps
the first ``per_class`` windows of each (subject, class) in recording order; its JSON sidecar
records the source cache entry, the rule and the file's sha256, so a result computed on it
names what it was computed on. Scores on a subset are not comparable with full-data rows.

Usage (export): python benchmarks/windows_subset.py OUT.npz [--per-class 6]
                [--data-root DIR] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

logger = logging.getLogger("windows_subset")

REPO = Path(__file__).resolve().parents[1]


def load_eegmat(data_root: Path | None = None, cache_dir: Path | None = None):
    """Return (X, y, subjects, info) of every standardized eegmat window (default preprocessing)."""
    from eegbench.data.cache import load_windows
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    data_root = Path(data_root or os.environ.get("EEGBENCH_DATA_ROOT", REPO.parent / "shared"
                                                 / "data"))
    cache_dir = Path(cache_dir or os.environ.get("EEGBENCH_CACHE_DIR", REPO / ".eegbench_cache"))
    ds = load_windows(load_recipe("physionet_eegmat"), data_root, PreprocessSpec(), cache_dir)
    return ds.X, ds.y, ds.meta["subject"].astype(str).to_numpy(), ds.info


def select(y: np.ndarray, subjects: np.ndarray, per_class: int | None) -> np.ndarray:
    """Return the indices of the first ``per_class`` windows of each (subject, class)."""
    if per_class is None:
        return np.arange(len(y))
    keep = []
    for subject in sorted(set(subjects)):
        for label in sorted(set(y)):
            keep.extend(np.flatnonzero((subjects == subject) & (y == label))[:per_class])
    return np.sort(np.asarray(keep, dtype=np.int64))


def export(out: Path, per_class: int, data_root: Path | None = None,
           cache_dir: Path | None = None) -> dict:
    """Write the subset to ``out`` (npz) and its provenance to ``out`` + ``.json``."""
    X, y, subjects, info = load_eegmat(data_root, cache_dir)
    keep = select(y, subjects, per_class)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, X=np.asarray(X[keep], dtype=np.float32), y=y[keep],
                        subject=np.asarray(subjects[keep], dtype=str))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    meta = {"dataset": "physionet_eegmat", "source_cache_entry": info.get("key"),
            "preprocess": info.get("preprocess"), "sfreq": info.get("sfreq"),
            "ch_names": list(info.get("ch_names", [])), "classes": list(info.get("classes", [])),
            "rule": f"first {per_class} windows of each (subject, class), recording order",
            "n_windows": int(len(keep)), "n_subjects": int(len(set(subjects))),
            "sha256": digest}
    Path(f"{out}.json").write_text(json.dumps(meta, indent=1))
    return meta


def load_subset(path: Path):
    """Return (X, y, subjects, info) from an exported subset (its sha256 is checked)."""
    meta = json.loads(Path(f"{path}.json").read_text())
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if digest != meta["sha256"]:
        raise ValueError(f"Invalid windows subset {path}: its sha256 is {digest}, but "
                         f"{path}.json records {meta['sha256']}.")
    with np.load(path, allow_pickle=False) as z:
        return z["X"], z["y"], z["subject"].astype(str), meta


def load(windows: str | None, per_class: int | None):
    """Return (X, y, subjects, info, description) from a subset file or the recipe's cache."""
    if windows:
        X, y, subjects, info = load_subset(Path(windows))
        text = f"subset {Path(windows).name}: {info['rule']}"
    else:
        X, y, subjects, info = load_eegmat()
        text = "all standardized windows"
    keep = select(y, subjects, per_class)
    if per_class is not None:
        text += f"; first {per_class} per (subject, class)"
    return np.asarray(X[keep], dtype=np.float32), y[keep], subjects[keep], info, text


def model_config(name: str) -> tuple[dict, dict]:
    """Return ``params`` (weights left out) and ``recipe`` of ``conf/model/<name>.yaml``."""
    from omegaconf import OmegaConf

    path = REPO / "conf" / "model" / f"{name}.yaml"
    if not path.is_file():
        return {}, {}
    cfg = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    params = {k: v for k, v in (cfg.get("params") or {}).items()
              if k not in ("checkpoint", "checkpoint_sha256", "init")}
    return params, dict(cfg.get("recipe") or {})


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-class", type=int, default=6)
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--cache-dir", type=Path)
    args = parser.parse_args(argv)
    meta = export(args.out, args.per_class, args.data_root, args.cache_dir)
    size = args.out.stat().st_size / 2**20
    print(f"{args.out}: {meta['n_windows']} windows of {meta['n_subjects']} subjects, "
          f"{size:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
