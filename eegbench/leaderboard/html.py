"""A static, self-contained HTML page of the leaderboard (deterministic: no timestamps)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import pandas as pd

from eegbench.leaderboard.ranks import RANKS_CAPTION, rank_rows
from eegbench.leaderboard.tables import BLOCK_COLUMNS, block_title, table_rows

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 80em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; } td:nth-child(2), td:nth-child(3), td:nth-child(4) { text-align: left; }
tr.best td { font-weight: 600; background: #eef7ee; }
.prov { color: #555; font-size: 0.85em; } img { max-width: 100%; border: 1px solid #ddd; }
code { font-size: 0.9em; }
"""


def _cell(text: str) -> str:
    text = str(text)
    if text.startswith("`") and text.endswith("`"):
        return f"<code>{escape(text[1:-1])}</code>"
    return escape(text)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]],
           best: Sequence[bool] | None = None) -> list[str]:
    out = ["<table>", "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>"]
    for i, cells in enumerate(rows):
        cls = ' class="best"' if best is not None and best[i] else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{_cell(c)}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return out


def render_html(title: str, summary: pd.DataFrame, metrics: Sequence[str],
                provenance: dict[tuple, str], ranks: pd.DataFrame, plots: Sequence[str],
                notes: Sequence[str], footer: Sequence[str]) -> str:
    """Return the page: notes, one table per block with provenance, rank table, plots.

    Parameters
    ----------
    title : str
        Page title.
    summary : DataFrame
        :func:`eegbench.leaderboard.tables.summarize` output.
    metrics : sequence of str
        Metric columns shown.
    provenance : dict
        Block key -> provenance text.
    ranks : DataFrame
        :func:`eegbench.leaderboard.ranks.aggregate_ranks` output.
    plots : sequence of str
        Image paths relative to the page.
    notes, footer : sequence of str
        Plain-text paragraphs above the tables and below everything.
    """
    body = [f"<h1>{escape(title)}</h1>"] + [f"<p>{escape(n)}</p>" for n in notes]
    for key, block in summary.groupby(BLOCK_COLUMNS, sort=True):
        body.append(f"<h2>{escape(block_title(*key))}</h2>")
        header, rows = table_rows(block, metrics)
        body += _table(header, rows, [bool(b) for b in block["is_best"]])
        if key in provenance:
            body.append(f'<p class="prov">Provenance: {escape(provenance[key])}</p>')
    if len(ranks):
        body += ["<h2>Mean rank across datasets</h2>", f"<p>{escape(RANKS_CAPTION)}</p>"]
        body += _table(*rank_rows(ranks))
    if plots:
        body.append("<h2>Plots</h2>")
        for path in plots:
            body.append(f'<figure><img src="{escape(path)}" alt="{escape(path)}">'
                        f"<figcaption>{escape(path)}</figcaption></figure>")
    body += [f'<p class="prov">{escape(f)}</p>' for f in footer]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
