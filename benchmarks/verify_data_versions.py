"""Verify which data fingerprints of the shipped rows name identical windows.

Rows computed before the content fingerprint existed (schema 4, and schema 5 up to the
revision that introduced :func:`eegbench.evaluation.identity.data_fingerprint`) carry a
code-based data fingerprint: a hash of the cache key (the data code, the recipe, the source
files and the preprocessing) and the subject and channel lists. Newer rows carry the content
fingerprint (the windows' bytes, metadata and signal description). A change of the data code
that leaves every window unchanged gave the older rows a new fingerprint, so tables mixing
such rows warn about different data versions although the windows are identical.

For every (dataset, task) whose rows carry more than one data fingerprint, and for each of
those fingerprints, this script

1. checks out one revision that produced rows with that fingerprint (the one with the most
   rows) into a temporary git worktree (``git worktree add --detach``, removed afterwards);
2. builds the windows with that revision's code (a subprocess with the old tree first on
   ``PYTHONPATH``, a fresh cache folder, the rows' dataset and preprocessing configuration);
3. confirms that that revision's own fingerprint function reproduces the rows' fingerprint;
4. saves the windows (``X.npy``, metadata and ``info`` pickles, in the temporary folder) and
   computes their content fingerprint with the current code;
5. builds the same windows with the current code and computes their content fingerprint.

A fingerprint is recorded in the output file (``leaderboard/data_versions.yaml``), mapped to
the content fingerprint of its windows, only when step 3 reproduces it and the content
fingerprints of steps 4 and 5 are equal (a fingerprint that already is that content
fingerprint needs no entry); every other outcome is logged as a mismatch, left out, and makes
the script exit with status 1.

Usage::

    nice -n 5 env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python
        benchmarks/verify_data_versions.py [--rows leaderboard/rows.jsonl]
        [--data-root ../shared/data] [--out leaderboard/data_versions.yaml]
        [--datasets NAME ...] [--keep-temp]

With ``--datasets``, the entries of the other datasets already in ``--out`` are kept.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import logging
import os
import pickle
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

logger = logging.getLogger("verify_data_versions")

REPO = Path(__file__).resolve().parents[1]
#: One thread everywhere (the windows are built on shared CPUs).
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

#: Run inside the old tree: build the windows with its code, print its own fingerprint of them
#: (the content fingerprint where the tree has one, else the code-based one of
#: ``eegbench.results.fingerprints``) and save them.
OLD_SIDE = r"""
import json, pickle, sys
from pathlib import Path
import numpy as np
args = json.loads(sys.argv[1])
import eegbench
tree = Path(args["tree"]).resolve()
if not Path(eegbench.__file__).resolve().is_relative_to(tree):
    sys.exit(f"imported eegbench from {eegbench.__file__}, not from the old tree {tree}")
import inspect
from eegbench.data.cache import load_windows
from eegbench.data.channels import harmonize_from_config
from eegbench.data.recipe import load_recipe
from eegbench.data.standardize import PreprocessSpec
spec = PreprocessSpec.from_config(args["preprocess"])
task = {"task": args["task"]} if "task" in inspect.signature(load_recipe).parameters else {}
ds = load_windows(load_recipe(args["recipe"], **task), Path(args["data_root"]), spec,
                  Path(args["cache"]), subjects=args["subjects"])
ds = harmonize_from_config(ds, None)  # as the rows' jobs did: no model.channels
try:  # the content fingerprint (a function of the windows dataset)
    from eegbench.evaluation.identity import data_fingerprint
    scheme, fingerprint = "content", data_fingerprint(ds)
except ImportError:  # the code-based one (cache key, subjects and channels)
    from eegbench.results.fingerprints import data_fingerprint
    scheme = "code-based"
    fingerprint = data_fingerprint(ds.info, ds.meta["subject"].unique().tolist())
out = Path(args["out"])
np.save(out / "X.npy", np.asarray(ds.X))
ds.meta.to_pickle(out / "meta.pkl")
(out / "info.pkl").write_bytes(pickle.dumps(dict(ds.info)))
print(json.dumps({"fingerprint": fingerprint, "scheme": scheme, "n_windows": int(len(ds.X))}))
"""


# -- the rows ---------------------------------------------------------------------------------

def _data_config(row: dict[str, Any]) -> dict[str, Any]:
    """What decides a row's windows: recipe, task, subjects and preprocessing."""
    config = row.get("config") or {}
    dataset = config.get("dataset") or {}
    subjects = dataset.get("subjects")
    return {"recipe": dataset.get("recipe") or row["dataset"], "task": row["task"],
            "subjects": None if subjects is None else [str(s) for s in subjects],
            "preprocess": config.get("preprocess") or {}}


def fingerprint_groups(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Group the rows' data fingerprints per (dataset, task).

    Returns ``{(dataset, task): {fingerprint: {"revisions": Counter, "config": ...}}}``.

    Raises
    ------
    ValueError
        If the rows of one fingerprint disagree on their data configuration.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = collections.defaultdict(dict)
    for row in rows:
        fingerprint = row.get("data_fingerprint")
        if not fingerprint:
            continue
        config = _data_config(row)
        entry = groups[(row["dataset"], row["task"])].setdefault(
            fingerprint, {"revisions": collections.Counter(), "config": config})
        if entry["config"] != config:
            raise ValueError(f"Rows of data fingerprint {fingerprint} ({row['dataset']} / "
                             f"{row['task']}) have different data configurations: "
                             f"{entry['config']} and {config}.")
        entry["revisions"][str(row.get("git_revision"))] += 1
    return dict(groups)


# -- building windows -------------------------------------------------------------------------

def build_old_windows(revision: str, config: dict[str, Any], data_root: Path,
                      work: Path) -> tuple[dict[str, Any], Path]:
    """Build the windows with ``revision``'s code; return its report and the output folder."""
    tree = work / f"tree-{revision[:12]}"
    out = work / f"windows-{revision[:12]}-{config['recipe']}"
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree),
                    revision], check=True, capture_output=True, text=True)
    try:
        args = {**config, "tree": str(tree), "data_root": str(data_root.resolve()),
                "cache": str(work / f"cache-{revision[:12]}"), "out": str(out)}
        env = {**os.environ, **THREAD_ENV, "PYTHONPATH": str(tree)}
        done = subprocess.run([sys.executable, "-c", OLD_SIDE, json.dumps(args)], cwd=tree,
                              env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"Building the windows with revision {revision} failed "
                               f"(exit {done.returncode}):\n{done.stderr[-3000:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)],
                       check=False, capture_output=True)
        shutil.rmtree(work / f"cache-{revision[:12]}", ignore_errors=True)
    return report, out


def saved_content_fingerprint(folder: Path) -> tuple[str, Any]:
    """Return the current content fingerprint of windows saved by :data:`OLD_SIDE`."""
    import numpy as np
    import pandas as pd

    from eegbench.data.cache import WindowsDataset
    from eegbench.evaluation.identity import data_fingerprint

    ds = WindowsDataset(X=np.load(folder / "X.npy", mmap_mode="r"),
                        meta=pd.read_pickle(folder / "meta.pkl"),
                        info=pickle.loads((folder / "info.pkl").read_bytes()))
    return data_fingerprint(ds), ds


def current_windows(config: dict[str, Any], data_root: Path, cache: Path) -> Any:
    """Build the windows of ``config`` with the current code (a fresh cache folder)."""
    from eegbench.data.cache import load_windows
    from eegbench.data.channels import harmonize_from_config
    from eegbench.data.recipe import load_recipe
    from eegbench.data.standardize import PreprocessSpec

    ds = load_windows(load_recipe(config["recipe"], task=config["task"]), data_root,
                      PreprocessSpec.from_config(config["preprocess"]), cache,
                      subjects=config["subjects"])
    return harmonize_from_config(ds, None)


def describe_difference(old: Any, new: Any) -> str:
    """Say which parts of two windows datasets differ (for a mismatch report)."""
    from eegbench.evaluation.identity import (
        FINGERPRINT_INFO_KEYS,
        FINGERPRINT_META_COLUMNS,
        windows_digest,
    )

    parts = []
    if windows_digest(old.X) != windows_digest(new.X):
        parts.append(f"windows (shapes {tuple(old.X.shape)} / {tuple(new.X.shape)})")
    for column in FINGERPRINT_META_COLUMNS:
        a = old.meta[column].tolist() if column in old.meta else None
        b = new.meta[column].tolist() if column in new.meta else None
        if json.dumps(a, default=str) != json.dumps(b, default=str):
            parts.append(f"meta column {column!r}")
    for key in FINGERPRINT_INFO_KEYS:
        if json.dumps(old.info.get(key), default=str) != json.dumps(new.info.get(key),
                                                                    default=str):
            parts.append(f"info key {key!r}")
    return ", ".join(parts) or "nothing the content fingerprint reads"


def current_revision() -> str:
    """Return the checked-out revision of the current code (``+dirty`` with local changes)."""
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                            "--untracked-files=no"], check=True, capture_output=True,
                           text=True).stdout.strip()
    return f"{head}+dirty" if dirty else head


# -- verification -----------------------------------------------------------------------------

def verify(rows_path: Path, data_root: Path, datasets: list[str] | None, work: Path,
           command: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the verified entries (per dataset and task) and the mismatch messages."""
    code = current_revision()  # once: later edits of the checkout do not change the record
    rows = [json.loads(line) for line in rows_path.read_text().splitlines() if line.strip()]
    groups = fingerprint_groups(rows)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    entries, mismatches = [], []
    for (dataset, task), group in sorted(groups.items()):
        if datasets and dataset not in datasets:
            continue
        if len(group) < 2:  # one data version: nothing to reconcile
            continue
        verified = []
        current_cache: dict[str, tuple[str, Any]] = {}
        for fingerprint, old in sorted(group.items()):
            config = old["config"]
            revision = sorted(old["revisions"].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            where = f"{dataset} / {task} / {fingerprint} (revision {revision[:7]})"
            logger.info("%s: building the windows with that revision's code", where)
            report, folder = build_old_windows(revision, config, data_root, work)
            if report["fingerprint"] != fingerprint:
                mismatches.append(f"{where}: that revision's code gives the {report['scheme']} "
                                  f"fingerprint {report['fingerprint']}, not the rows' "
                                  f"{fingerprint}")
                continue
            content, old_ds = saved_content_fingerprint(folder)
            key = json.dumps(config, sort_keys=True)
            if key not in current_cache:
                logger.info("%s / %s: building the windows with the current code", dataset, task)
                new_ds = current_windows(config, data_root, work / "cache-current")
                from eegbench.evaluation.identity import data_fingerprint

                current_cache[key] = (data_fingerprint(new_ds), new_ds)
            current, new_ds = current_cache[key]
            if content != current:
                mismatches.append(
                    f"{where}: its windows have content fingerprint {content}, the current "
                    f"code's windows {current} (differ in: "
                    f"{describe_difference(old_ds, new_ds)})")
                continue
            shutil.rmtree(folder, ignore_errors=True)
            if fingerprint == content:  # already the content fingerprint: nothing to map
                logger.info("%s: the rows carry the content fingerprint of the current "
                            "code's windows", where)
                continue
            logger.info("%s: verified (%s fingerprint), %d windows with content fingerprint "
                        "%s", where, report["scheme"], report["n_windows"], content)
            verified.append({"old": fingerprint, "content": content, "revision": revision,
                             "rows_revisions": sorted(old["revisions"]),
                             "windows": report["n_windows"], "checked": today,
                             "current_code": code, "command": command})
        shutil.rmtree(work / "cache-current", ignore_errors=True)
        if verified:
            entries.append({"dataset": dataset, "task": task, "fingerprints": verified})
    return entries, mismatches


HEADER = """\
# Code-based data fingerprints of the shipped rows (a hash of the data code, recipe, files,
# preprocessing, subjects and channels) whose windows were rebuilt with the code of the
# revision named, which reproduced the fingerprint, and found to have the content fingerprint
# given (the windows' bytes, metadata and signal description), the same as the current code's
# windows. The leaderboard maps these old fingerprints to their content fingerprint before
# comparing data versions; a fingerprint not listed here is never assumed equal to another.
# Written by benchmarks/verify_data_versions.py (the command of each entry); never by hand.
"""


def write(entries: list[dict[str, Any]], out: Path, datasets: list[str] | None) -> None:
    """Write ``entries`` to ``out``, keeping other datasets' entries when ``datasets`` is set."""
    kept = []
    if datasets and out.is_file():
        previous = yaml.safe_load(out.read_text()) or {}
        kept = [e for e in previous.get("data_versions") or [] if e["dataset"] not in datasets]
    merged = sorted(kept + entries, key=lambda e: (e["dataset"], e["task"]))
    out.write_text(HEADER + yaml.safe_dump({"version": 1, "data_versions": merged},
                                           sort_keys=False, width=100))


def _terminate(signum: int, frame: Any) -> None:
    raise SystemExit(f"terminated by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Run the verification and write the equivalences file; 1 if any mismatch."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=Path, default=REPO / "leaderboard" / "rows.jsonl")
    parser.add_argument("--data-root", type=Path, default=Path(os.environ.get(
        "EEGBENCH_DATA_ROOT", REPO.parent / "shared" / "data")))
    parser.add_argument("--out", type=Path, default=REPO / "leaderboard" / "data_versions.yaml")
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--keep-temp", action="store_true",
                        help="keep the temporary folder (windows of mismatches)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    shown = sys.argv[1:] if argv is None else argv
    command = " ".join(["nice -n 5 env OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python",
                        "benchmarks/verify_data_versions.py",
                        *map(shlex.quote, shown)])
    signal.signal(signal.SIGTERM, _terminate)  # a killed run still removes its worktrees
    work = Path(tempfile.mkdtemp(prefix="eegbench-data-versions-"))
    try:
        entries, mismatches = verify(args.rows, args.data_root, args.datasets, work, command)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "prune"], check=False)
        if not args.keep_temp:
            shutil.rmtree(work, ignore_errors=True)
    write(entries, args.out, args.datasets)
    n = sum(len(e["fingerprints"]) for e in entries)
    logger.info("wrote %d verified equivalence(s) to %s", n, args.out)
    for message in mismatches:
        logger.error("NOT verified: %s", message)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
