"""Training progress: a tqdm bar on a terminal, concise log lines elsewhere.

Every deep model trains through :func:`eegbench.training.loop.fit_classifier` (or the fold-parallel
trainer), which reports each epoch here. On an interactive terminal a tqdm bar shows the
fold (``fold 3/36``), the epoch, the training and validation losses and tqdm's ETA. Where
stderr is not a terminal (CI, log files, batch jobs) no bar is drawn; instead one INFO line
per epoch is logged, at most one every :data:`LOG_EVERY_S` seconds per bar (the first and the
last epoch of a fold are always logged), so logs stay short.

The caller that knows which fold is being trained (:func:`eegbench.evaluation.job.run_experiment`)
names it with :func:`fold_label`; the trainer picks the label up from there, so model and
adaptation code need no extra argument.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from collections.abc import Iterator
from typing import Any

from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

#: Shortest interval in seconds between two per-epoch log lines of one bar (non-terminal).
LOG_EVERY_S = 10.0

_LABEL: contextvars.ContextVar[str | None] = contextvars.ContextVar("eegbench_fold_label",
                                                                    default=None)


@contextlib.contextmanager
def fold_label(label: str) -> Iterator[None]:
    """Name what is being trained (e.g. ``"eegnet seed 0 fold 3/36 sub-03"``) for the bars."""
    token = _LABEL.set(label)
    try:
        yield
    finally:
        _LABEL.reset(token)


def current_label() -> str | None:
    """Return the label set by the innermost :func:`fold_label`, or None."""
    return _LABEL.get()


def interactive() -> bool:
    """True if stderr is a terminal (where a tqdm bar is drawn)."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _eta_text(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class EpochProgress:
    """Report the epochs of one training run (one fold, or several folds trained together).

    Parameters
    ----------
    total_epochs : int
        The epoch budget (the bar's total; early stopping may end it sooner).
    what : str, optional
        What is trained; defaults to the current :func:`fold_label` (or ``"training"``).
    bar : bool, optional
        Draw a tqdm bar (default: when stderr is a terminal); otherwise log lines.
    """

    def __init__(self, total_epochs: int, what: str | None = None,
                 bar: bool | None = None) -> None:
        self.total = int(total_epochs)
        self.what = what or current_label() or "training"
        self.use_bar = interactive() if bar is None else bool(bar)
        self._t0 = time.perf_counter()
        self._last_log = -float("inf")
        self._epoch = 0
        self._fields: dict[str, str] = {}
        self._closed = False
        self._bar = (tqdm(total=self.total, desc=self.what, unit="epoch", leave=False,
                          dynamic_ncols=True) if self.use_bar else None)

    def update(self, epoch: int, train_loss: float, valid_loss: float,
               best_epoch: int | None = None, **extra: Any) -> None:
        """Report that ``epoch`` (1-based) finished with these losses."""
        self._epoch = int(epoch)
        fields = {"train": f"{train_loss:.3f}", "valid": f"{valid_loss:.3f}"}
        if best_epoch is not None:
            fields["best"] = str(best_epoch)
        fields.update({k: str(v) for k, v in extra.items()})
        self._fields = fields
        if self._bar is not None:
            self._bar.update(self._epoch - self._bar.n)
            self._bar.set_postfix(fields, refresh=True)
            return
        now = time.perf_counter()
        if epoch == 1 or now - self._last_log >= LOG_EVERY_S:
            self._log(now)

    def _log(self, now: float, done: bool = False) -> None:
        self._last_log = now
        elapsed = now - self._t0
        text = " ".join(f"{k} {v}" for k, v in self._fields.items())
        if done:
            logger.info("%s: done after %d/%d epochs, %s (%s)", self.what, self._epoch,
                        self.total, text, _eta_text(elapsed))
            return
        eta = elapsed / max(self._epoch, 1) * (self.total - self._epoch)
        logger.info("%s: epoch %d/%d %s (elapsed %s, ETA at most %s)", self.what, self._epoch,
                    self.total, text, _eta_text(elapsed), _eta_text(eta))

    def close(self) -> None:
        """Close the bar, or log the last epoch (one line per run on a non-terminal)."""
        if self._closed:
            return
        self._closed = True
        if self._bar is not None:
            self._bar.close()
        elif self._epoch:
            self._log(time.perf_counter(), done=True)

    def __enter__(self) -> EpochProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
