"""Within-subject protocols that work for any dataset, single-subject ones included.

* :class:`LeaveOneRunOut` (``protocol=within_run``): each run of a subject is the test set once;
  the model is trained on the subject's other runs. A whole run is never split.
* :class:`BlockedKFold` (``protocol=blocked_kfold``): the windows of each session (or of each
  run, when every run holds one class) are put in time order and cut into K contiguous blocks;
  block k is the test set of fold k, and training windows closer than ``gap_s`` to a test
  window of the same run are dropped, so no window of a test trial (or overlapping it) is
  trained on. A test block holding a single class is excluded (``one_class_test_blocks``), so
  that no undefined ROC AUC or one-class balanced accuracy enters a subject's mean.

Leave-one-session-out inside a subject is :class:`~eegbench.protocols.cross_session.CrossSession`.
Time order is (session, run, onset): sessions and runs sort by name (eeg-notebooks runs are
named by their start time; numbered runs sort by number).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd

from eegbench.protocols.splitters import Fold, assert_disjoint

logger = logging.getLogger(__name__)


def _natural(value: object) -> tuple:
    """Sort key that orders ``run2`` before ``run10``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(value)))


def time_order(meta: pd.DataFrame) -> np.ndarray:
    """Return the window indices sorted by (subject, session, run, onset) in natural order."""
    cols = [c for c in ("subject", "session", "run") if c in meta]
    keys = [meta[c].map(_natural) for c in cols]
    frame = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)})
    frame["onset"] = meta["onset_s"].to_numpy() if "onset_s" in meta else np.arange(len(meta))
    frame["pos"] = np.arange(len(meta))
    return frame.sort_values([*frame.columns[:-1]], kind="stable")["pos"].to_numpy()


def recording_labelled(meta: pd.DataFrame) -> tuple[bool, str]:
    """Whether every recording (subject, session, run) holds a single class.

    Returns
    -------
    bool, str
        The answer and, when True, an example ("subject '00' run '1': only 'rest").
    """
    keys = [c for c in ("subject", "session", "run") if c in meta]
    n_labels = meta.groupby(keys)["label"].nunique()
    if len(n_labels) and int(n_labels.max()) == 1:
        first = meta.iloc[0]
        name = first.get("label_name", first["label"])
        return True, (f"subject {first['subject']!r} run {first.get('run', '?')!r} holds only "
                      f"{name!r}")
    return False, ""


def _gap_s(meta: pd.DataFrame, gap_s: float | None) -> float:
    if gap_s is not None:
        if gap_s < 0:
            raise ValueError(f"Invalid value for the 'gap_s' parameter. Allowed values are "
                             f"floats >= 0 or null, but got {gap_s}.")
        return float(gap_s)
    if "duration_s" in meta:  # one window length: windows farther apart cannot overlap
        return float(meta["duration_s"].max())
    raise ValueError("blocked_kfold: 'gap_s' is null (one window length) but the metadata table "
                     "has no 'duration_s' column; set protocol.gap_s (seconds).")


def run_codes(meta: pd.DataFrame) -> np.ndarray:
    """Return an integer per window naming its recording (subject, session, run)."""
    return group_codes(meta, [c for c in ("subject", "session", "run") if c in meta])


def group_codes(meta: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Return an integer per window naming its group of ``cols`` values (one pass, no keys)."""
    if not cols:
        return np.zeros(len(meta), dtype=np.int64)
    return meta.groupby([meta[c].astype(str) for c in cols], sort=False,
                        observed=True).ngroup().to_numpy()


def drop_near(train: np.ndarray, test: np.ndarray, meta: pd.DataFrame, gap_s: float,
              runs: np.ndarray | None = None) -> np.ndarray:
    """Remove from ``train`` the windows closer than ``gap_s`` to a ``test`` window of its run.

    A window's position is its ``onset_s``; windows of other runs are never close (runs are
    separate recordings). ``runs`` (:func:`run_codes` of ``meta``) may be passed to avoid
    recomputing it for every fold.
    """
    if gap_s <= 0 or not len(test) or not len(train):
        return train
    run_key = run_codes(meta) if runs is None else runs
    onset = meta["onset_s"].to_numpy(dtype=float)
    keep = np.ones(len(train), bool)
    for run in np.unique(run_key[test]):
        t = np.sort(onset[test[run_key[test] == run]])
        same = np.flatnonzero(run_key[train] == run)
        if not len(same):
            continue
        x = onset[train[same]]
        # distance from each training window to its nearest test window of the same run
        pos = np.clip(np.searchsorted(t, x), 1, len(t)) - 1
        nearest = np.minimum(np.abs(x - t[pos]), np.abs(x - t[np.minimum(pos + 1, len(t) - 1)]))
        keep[same[nearest < gap_s]] = False
    return train[keep]


class LeaveOneRunOut:
    """Within-subject leave-one-run-out.

    Parameters
    ----------
    n_valid_runs : int
        Whole runs of the subject held out of training for validation (early stopping): the
        runs nearest in time to the test run. 0 = no validation data (classical models).
    seed : int
        Unused (the folds are deterministic); accepted so every protocol takes a seed.
    """

    name = "within_run"

    def __init__(self, n_valid_runs: int = 1, seed: int = 0) -> None:
        if int(n_valid_runs) < 0:
            raise ValueError(f"Invalid value for the 'n_valid_runs' parameter. Allowed values "
                             f"are integers >= 0, but got {n_valid_runs}.")
        self.n_valid_runs = int(n_valid_runs)
        self.seed = int(seed)

    def _runs(self, meta: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
        if "run" not in meta:
            raise ValueError("within_run needs a 'run' column in the metadata table; the table "
                             f"has columns {list(meta.columns)}. Use protocol=blocked_kfold.")
        single, example = recording_labelled(meta)
        if single:
            raise ValueError(
                f"within_run: every run holds a single class ({example}), so each held-out run "
                "tests one class that its own recording alone defines; leave-one-run-out cannot "
                "measure the task on this dataset. Use protocol=blocked_kfold (time blocks "
                "inside each run) or protocol=loso.")
        need = 2 + self.n_valid_runs
        out = {}
        for subject, sub in meta.groupby("subject", sort=True):
            runs = sorted({(str(s), str(r)) for s, r in zip(sub.get("session", ""), sub["run"],
                                                            strict=True)},
                          key=lambda sr: (_natural(sr[0]), _natural(sr[1])))
            if len(runs) >= need:
                out[str(subject)] = runs
            else:
                logger.info("within_run: subject %s has %d run(s) (< %d): skipped", subject,
                            len(runs), need)
        if not out:
            counts = meta.groupby("subject")["run"].nunique().to_dict()
            raise ValueError(f"within_run needs a subject with at least {need} runs (1 test, "
                             f"{self.n_valid_runs} validation, >=1 train); runs per subject: "
                             f"{counts}. Use protocol=blocked_kfold (time blocks inside a "
                             "session)" + (" or lower protocol.n_valid_runs."
                                           if max(counts.values()) >= 2 else "."))
        return out

    def get_n_splits(self, meta: pd.DataFrame) -> int:
        """Return the number of folds (runs of the subjects with enough runs)."""
        return sum(len(r) for r in self._runs(meta).values())

    def split(self, meta: pd.DataFrame) -> Iterator[Fold]:
        """Yield one fold per (subject, run), in subject then time order."""
        key = meta[[c for c in ("subject", "session", "run") if c in meta]].astype(str)
        key = key.reindex(columns=["subject", "session", "run"], fill_value="")
        run_id = key.agg("|".join, axis=1).to_numpy()

        def windows(subject: str, runs: list[tuple[str, str]]) -> np.ndarray:
            ids = [f"{subject}|{s}|{r}" for s, r in runs]
            return np.flatnonzero(np.isin(run_id, ids))

        for subject, runs in self._runs(meta).items():
            for pos, (session, run) in enumerate(runs):
                others = sorted((i for i in range(len(runs)) if i != pos),
                                key=lambda i, p=pos: (abs(i - p), i))
                valid_runs = [runs[i] for i in others[:self.n_valid_runs]]
                train_runs = [runs[i] for i in others[self.n_valid_runs:]]
                fold = Fold(
                    name=f"subject-{subject}/session-{session}/run-{run}",
                    train=windows(subject, train_runs), valid=windows(subject, valid_runs),
                    test=windows(subject, [(session, run)]),
                    test_subjects=(subject,), valid_subjects=(subject,) if valid_runs else (),
                    train_sessions=tuple(sorted({s for s, _ in train_runs})),
                    test_sessions=(session,),
                )
                assert_disjoint(fold, meta, by_subject=False)
                yield fold


class BlockedKFold:
    """Within-subject K-fold over contiguous time blocks, with a gap.

    Parameters
    ----------
    n_folds : int
        Number of blocks (and folds) per subject.
    gap_s : float or None
        Training (and validation) windows whose onset is within ``gap_s`` seconds of a test
        window of the same run are dropped. None = one window length (``duration_s`` column).
    within : {"auto", "session", "run"}
        Unit cut into blocks: each session (runs in time order) or each run. ``auto`` uses
        runs when every run holds a single class (block-design recordings such as eegmat, where
        session blocks would be single-class), else sessions.
    valid : bool
        Hold out the block after the test block (cyclically) for validation (early stopping).
    one_class_test_blocks : {"exclude", "error"}
        A test block whose windows all hold one class (a session cut into blocks that follow
        a block design, or a short unit) gives an undefined ROC AUC and a balanced accuracy
        of that class's recall alone. ``exclude`` (default) leaves such folds out, logged
        with the subject, block and class, so that no NaN or one-class score enters a
        subject's mean; the subject is scored on its other blocks (none: it has no fold).
        ``error`` raises instead, naming them.
    seed : int
        Unused (blocks are deterministic); accepted so every protocol takes a seed.
    """

    name = "blocked_kfold"
    UNITS = ("auto", "session", "run")
    ONE_CLASS_POLICIES = ("exclude", "error")

    def __init__(self, n_folds: int = 5, gap_s: float | None = None, within: str = "auto",
                 valid: bool = True, one_class_test_blocks: str = "exclude",
                 seed: int = 0) -> None:
        if int(n_folds) < 2:
            raise ValueError(f"Invalid value for the 'n_folds' parameter. Allowed values are "
                             f"integers >= 2, but got {n_folds}.")
        if within not in self.UNITS:
            raise ValueError(f"Invalid value for the 'within' parameter. Allowed values are "
                             f"{list(self.UNITS)}, but got {within!r}.")
        if valid and int(n_folds) < 3:
            raise ValueError("blocked_kfold with valid=true needs n_folds >= 3 (test, "
                             f"validation and training blocks), but got {n_folds}.")
        if one_class_test_blocks not in self.ONE_CLASS_POLICIES:
            raise ValueError(f"Invalid value for the 'one_class_test_blocks' parameter. Allowed "
                             f"values are {list(self.ONE_CLASS_POLICIES)}, but got "
                             f"{one_class_test_blocks!r}.")
        self.one_class_test_blocks = one_class_test_blocks
        self.n_folds = int(n_folds)
        self.gap_s = gap_s
        self.within = within
        self.valid = bool(valid)
        self.seed = int(seed)

    def get_n_splits(self, meta: pd.DataFrame) -> int:
        """Return the number of folds (subjects x n_folds, less the one-class test blocks)."""
        subject_col = meta["subject"].astype(str).to_numpy()
        excluded = self._one_class_blocks(meta, subject_col, self.blocks(meta))
        return len(set(subject_col)) * self.n_folds - len(excluded)

    def unit_columns(self, meta: pd.DataFrame) -> list[str]:
        """Return the columns whose values define one blocked unit (session or run)."""
        within = self.within
        if within == "auto":
            within = "run" if recording_labelled(meta)[0] else "session"
        cols = ["subject", "session"] if "session" in meta else ["subject"]
        return cols + (["run"] if within == "run" and "run" in meta else [])

    def blocks(self, meta: pd.DataFrame) -> np.ndarray:
        """Return each window's block number (0..n_folds-1) within its unit, in time order."""
        order = time_order(meta)
        cols = self.unit_columns(meta)
        unit = group_codes(meta, cols)[order]
        # windows grouped by unit, each group in time order (a stable sort keeps the order)
        grouped = order[np.argsort(unit, kind="stable")]
        sizes = np.bincount(unit)
        block = np.full(len(meta), -1)
        start = 0
        for size in sizes:
            idx = grouped[start:start + size]
            start += size
            if len(idx) < self.n_folds:
                first = meta.iloc[idx[0]] if len(idx) else None
                name = "|".join(str(first[c]) for c in cols) if first is not None else "?"
                raise ValueError(f"blocked_kfold: unit {name!r} ({'/'.join(cols)}) has "
                                 f"{len(idx)} window(s), fewer than n_folds={self.n_folds}.")
            for k, part in enumerate(np.array_split(idx, self.n_folds)):
                block[part] = k
        return block

    def split(self, meta: pd.DataFrame) -> Iterator[Fold]:
        """Yield folds ordered by subject, then block."""
        gap = _gap_s(meta, self.gap_s)
        subject_col = meta["subject"].astype(str).to_numpy()
        logger.info("blocked_kfold: cutting %d window(s) of %d subject(s) into %d time blocks "
                    "per %s", len(meta), len(set(subject_col)), self.n_folds,
                    "/".join(self.unit_columns(meta)))
        block = self.blocks(meta)
        runs = run_codes(meta)
        one_class = self._one_class_blocks(meta, subject_col, block)
        for subject in sorted(set(subject_col)):
            own = subject_col == subject
            for k in range(self.n_folds):
                if (subject, k) in one_class:
                    continue
                test = np.flatnonzero(own & (block == k))
                v = (k + 1) % self.n_folds
                is_valid = own & (block == v) if self.valid else np.zeros(len(meta), bool)
                valid = np.flatnonzero(is_valid)
                train = np.flatnonzero(own & (block != k) & ~is_valid)
                train = drop_near(train, test, meta, gap, runs)
                valid = drop_near(valid, test, meta, gap, runs)
                train = drop_near(train, valid, meta, gap, runs)
                fold = Fold(name=f"subject-{subject}/block-{k}", train=train, valid=valid,
                            test=test, test_subjects=(subject,),
                            valid_subjects=(subject,) if len(valid) else ())
                assert_disjoint(fold, meta, by_subject=False)
                yield fold

    def _one_class_blocks(self, meta: pd.DataFrame, subject_col: np.ndarray,
                          block: np.ndarray) -> set[tuple[str, int]]:
        """Return the (subject, block) pairs whose test windows hold one class; log them.

        Raises
        ------
        ValueError
            Under ``one_class_test_blocks="error"`` when there are any, or when every test
            block is one-class.
        """
        labels = meta["label"].to_numpy()
        names = meta["label_name"].to_numpy() if "label_name" in meta else labels
        frame = pd.DataFrame({"subject": subject_col, "block": block, "label": labels})
        n_labels = frame.groupby(["subject", "block"], sort=True)["label"].nunique()
        single = [(str(s), int(b)) for (s, b), n in n_labels.items() if n < 2]
        if not single:
            return set()
        first = {key: names[np.flatnonzero((subject_col == key[0]) & (block == key[1]))[0]]
                 for key in single}
        listed = ", ".join(f"subject {s!r} block {b} (only {first[(s, b)]!r})"
                           for s, b in single[:10])
        more = f" and {len(single) - 10} more" if len(single) > 10 else ""
        why = ("its ROC AUC is undefined and its balanced accuracy is one class's recall")
        if self.one_class_test_blocks == "error" or len(single) == len(n_labels):
            raise ValueError(
                f"blocked_kfold: {len(single)} of {len(n_labels)} test block(s) hold a single "
                f"class: {listed}{more}; {why}. "
                + ("Every block is one-class: use within='run' or fewer folds."
                   if len(single) == len(n_labels) else
                   "Set protocol.one_class_test_blocks=exclude to leave them out, or use "
                   "fewer folds / within='run'."))
        logger.warning("blocked_kfold: %d of %d test block(s) hold a single class and are "
                       "excluded (protocol.one_class_test_blocks=exclude; %s): %s%s",
                       len(single), len(n_labels), why, listed, more)
        lost = sorted({s for s, _ in single} - {str(s) for (s, _), n in n_labels.items()
                                                 if n >= 2})
        if lost:
            logger.warning("blocked_kfold: subject(s) %s have no test block with two classes "
                           "left and get no fold", lost)
        return set(single)
