"""Escaping of text placed in Markdown table cells."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def md_cell(value: Any) -> str:
    r"""Return ``value`` as text safe inside one Markdown table cell.

    A ``|`` would end the cell and a line break the row, and ``<`` could open raw HTML in
    renderers that allow it: ``|`` becomes ``\|``, line breaks become spaces and ``<``
    becomes ``&lt;``. Plain names and numbers are returned unchanged.
    """
    text = str(value)
    for old, new in (("|", "\\|"), ("\r\n", " "), ("\n", " "), ("\r", " "), ("<", "&lt;")):
        text = text.replace(old, new)
    return text


def md_row(cells: list[Any]) -> str:
    """Return one Markdown table row with every cell escaped (:func:`md_cell`)."""
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"


def md_table(header: list[Any], rows: Iterable[list[Any]]) -> list[str]:
    """Return the lines of a Markdown table: header, separator and rows, every cell escaped."""
    return [md_row(header), "|" + "---|" * len(header), *(md_row(r) for r in rows)]
