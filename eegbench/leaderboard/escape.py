"""Escaping of text placed in Markdown: table cells, headings and one-line paragraphs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def md_cell(value: Any, html: bool = True) -> str:
    r"""Return ``value`` as text safe inside one Markdown table cell.

    A ``|`` would end the cell and a line break the row, and ``<`` could open raw HTML in
    renderers that allow it: ``|`` becomes ``\|``, line breaks become spaces and ``<``
    becomes ``&lt;`` (unless ``html`` is false: text for a terminal, never rendered).
    Plain names and numbers are returned unchanged.
    """
    text = str(value)
    for old, new in (("|", "\\|"), ("\r\n", " "), ("\n", " "), ("\r", " ")):
        text = text.replace(old, new)
    return text.replace("<", "&lt;") if html else text


def md_row(cells: list[Any], html: bool = True) -> str:
    """Return one Markdown table row with every cell escaped (:func:`md_cell`)."""
    return "| " + " | ".join(md_cell(c, html) for c in cells) + " |"


def md_table(header: list[Any], rows: Iterable[list[Any]], html: bool = True) -> list[str]:
    """Return the lines of a Markdown table: header, separator and rows, every cell escaped.

    ``html=False`` leaves ``<`` as it is, for a table printed to a terminal.
    """
    return [md_row(header, html), "|" + "---|" * len(header),
            *(md_row(r, html) for r in rows)]


def md_text(value: Any) -> str:
    r"""Return ``value`` as one line of Markdown text (a heading, a list item, a paragraph).

    A line break would end the line and let the rest start a new block (``# heading``, a
    table, raw HTML), and ``<`` could open raw HTML: line breaks become spaces and ``<``
    becomes ``&lt;``. Plain names and numbers are returned unchanged.
    """
    text = str(value)
    for old, new in (("\r\n", " "), ("\n", " "), ("\r", " "), ("<", "&lt;")):
        text = text.replace(old, new)
    return text


def md_heading(level: int, title: Any) -> str:
    """Return a Markdown heading of ``level`` (1 to 6) with ``title`` escaped (:func:`md_text`)."""
    if not 1 <= level <= 6:
        raise ValueError(f"Invalid value for the 'level' parameter. Allowed values are 1 to 6, "
                         f"but got {level!r}.")
    return f"{'#' * level} {md_text(title)}"
