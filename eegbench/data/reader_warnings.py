"""Warnings that MNE's readers emit while parsing a file: captured, classified, never discarded.

MNE repairs some invalid headers with a warning and goes on: an EDF channel whose physical
minimum equals its physical maximum ("Physical range is not defined") is read with a physical
range of 1, so its samples land at an arbitrary fraction of their scale; a digital range of 0
("Scaling factor will not be defined") gets a range of 1. Read with ``verbose="error"``,
those warnings are hidden and the numbers are silently wrong.

:func:`capture` wraps a reader call: MNE runs at log level ``warning`` and every warning it
emits is recorded (and removed from the global warnings stream, so it is reported once, by
us). :func:`classify` splits the messages into

* **header problems** (:data:`HEADER_CHECKS`): turned into signal-quality issues by
  :mod:`eegbench.data.quality` and handled by the recipe's ``quality.policy`` like any failed
  check (``error``, ``drop_file``, ``drop_channel``, ``warn``). A header problem in a channel
  the recipe does not pick cannot change a number and is only recorded;
* **other warnings** (e.g. "Channels contain different highpass filters"): logged and stored
  in the cache manifest's quality report (``reader_warnings``).
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import mne

logger = logging.getLogger(__name__)

#: Warning categories about the data (others, e.g. DeprecationWarning, are passed through).
_DATA_CATEGORIES = (RuntimeWarning, UserWarning)


@dataclass(frozen=True)
class HeaderCheck:
    """A reader warning that means wrong numbers: its pattern and the check it fails.

    Attributes
    ----------
    check : str
        Name of the failed quality check (``header_physical_range``, ...).
    pattern : re.Pattern
        Matches the warning's message.
    per_channel : bool
        The message lists the affected channels after its first line (comma-separated);
        otherwise the problem concerns the whole file.
    meaning : str
        What MNE did about it (for the error message).
    """

    check: str
    pattern: re.Pattern
    per_channel: bool
    meaning: str


#: Reader warnings that are quality failures (wording of MNE >= 1.6, mne/io/edf/edf.py).
HEADER_CHECKS = (
    HeaderCheck("header_physical_range", re.compile(r"^Physical range is not defined"), True,
                "physical minimum equals physical maximum; MNE substitutes a range of 1, so "
                "the channel's samples are at an arbitrary scale"),
    HeaderCheck("header_digital_range", re.compile(r"^Scaling factor will not be defined"),
                True, "digital minimum equals digital maximum (or is not finite); MNE "
                "substitutes a range of 1, so the channel's samples are at an arbitrary scale"),
    HeaderCheck("header_record_length",
                re.compile(r"^Header information is incorrect for record length"), False,
                "the header's record duration is invalid; MNE assumes 1 s, so the sampling "
                "rate and every time may be wrong"),
    HeaderCheck("header_n_records",
                re.compile(r"^Number of records from the header does not match the file"),
                False, "the file holds another number of data records than its header "
                "declares (truncated or still being written)"),
    HeaderCheck("header_physical_dimension",
                re.compile(r"^Unsupported physical dimension for channel"), False,
                "a channel's unit is not recognised; MNE assumes it is dimensionless, so "
                "its scale is unknown"),
)


@contextlib.contextmanager
def capture() -> Iterator[list[str]]:
    """Record the data warnings MNE emits inside the ``with`` block.

    Yields a list that holds the warning messages (in order, duplicates removed) once the
    block ends. MNE runs at log level ``warning`` inside the block, so pass
    ``verbose="warning"`` (or nothing) to the reader, never ``"error"``. Warnings of other
    categories (deprecations) are re-emitted unchanged.
    """
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught, mne.utils.use_log_level("warning"):
        warnings.simplefilter("always")
        try:
            yield messages
        finally:
            others = []
            for item in caught:
                if issubclass(item.category, _DATA_CATEGORIES):
                    messages.append(str(item.message))
                else:
                    others.append(item)
            messages[:] = list(dict.fromkeys(messages))
    for item in others:
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)


def _listed_channels(message: str, ch_names: list[str]) -> list[str]:
    """The channels of ``ch_names`` listed after a per-channel message's first line."""
    listed = message.split("\n", 1)[1] if "\n" in message else ""
    parts = [p.strip() for p in listed.split(", ")]
    return [c for c in ch_names if c in parts]


def classify(messages: list[str], file_channels: list[str]
             ) -> tuple[list[tuple[HeaderCheck, list[str] | None, str]], list[str]]:
    """Split reader warnings into header problems and other warnings.

    Parameters
    ----------
    messages : list of str
        The warnings recorded while reading one file.
    file_channels : list of str
        The file's channel names as read (before the recipe renames them).

    Returns
    -------
    problems : list of (HeaderCheck, channels or None, message)
        ``channels`` lists the affected channels (file names) of a per-channel problem,
        ``None`` for a file-level one.
    others : list of str
        Messages that are not header problems.
    """
    problems, others = [], []
    for message in messages:
        check = next((c for c in HEADER_CHECKS if c.pattern.search(message)), None)
        if check is None:
            others.append(message)
            continue
        channels = _listed_channels(message, file_channels) if check.per_channel else None
        problems.append((check, channels, message))
    return problems, others


@dataclass(frozen=True)
class ReaderWarnings:
    """The warnings MNE's reader emitted for one file, returned with the recording.

    Attributes
    ----------
    messages : tuple of str
        Every captured warning.
    file_channels : tuple of str
        The file's channel names (as read, before renaming), to find the channels a
        message lists.
    """

    messages: tuple[str, ...] = ()
    file_channels: tuple[str, ...] = ()

    def log(self, relpath: str) -> None:
        """Log every message at INFO, naming the file."""
        for message in self.messages:
            logger.info("%s: reader warning: %s", relpath, message.replace("\n", " "))
