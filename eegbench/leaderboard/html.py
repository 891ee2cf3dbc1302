"""A static, self-contained HTML page of the leaderboard (deterministic: no timestamps).

The page carries every section of the Markdown file. Each table's main columns (the
configuration, its score and its tests) stay in view: the columns are grouped under a header
row, the model column is sticky, and the details (other metrics, budgets, timings, config
hash) are in a collapsible table below, so that a wide table never overflows the window.
The extra sections (foundation models vs references, published figures, audits, tests across
datasets) are rendered from their Markdown by markdown-it-py (raw HTML disabled).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import pandas as pd
from markdown_it import MarkdownIt

from eegbench.leaderboard.ranks import RANKS_CAPTION, rank_rows
from eegbench.leaderboard.tables import BLOCK_COLUMNS, block_caption, block_title, table_rows

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 84em; color: #222;
       padding: 0 1em; }
.wide { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right;
         overflow-wrap: anywhere; }
th { background: #f0f0f0; } td.text { text-align: left; max-width: 22em; }
th.group { text-align: center; background: #e4e8ef; }
.sticky { position: sticky; left: 0; background: #fff; z-index: 1; }
th.sticky { background: #f0f0f0; }
tr.best td { font-weight: 600; background: #eef7ee; }
details { margin: 0 0 1.5em; } summary { cursor: pointer; color: #335; }
.prov { color: #555; font-size: 0.85em; } img { max-width: 100%; border: 1px solid #ddd; }
code { font-size: 0.9em; }
"""

#: Column groups of a table's main part (by header name); the other columns go to details.
MAIN_GROUPS = (
    ("configuration", ("model", "rank", "family", "adaptation", "setting", "calibration",
                       "uses test data", "subjects")),
    ("score", ()),  # the primary metric and its CI, filled in per table
    ("tests", ("p vs chance (subjects)", "Δ vs best", "p (Holm)")),
)
#: Columns left aligned (text).
TEXT_COLUMNS = {"model", "family", "adaptation", "setting", "calibration", "uses test data",
                "budget", "config"}

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def _cell(text: str, column: str, sticky: bool = False) -> str:
    text = str(text)
    classes = (["text"] if column in TEXT_COLUMNS else []) + (["sticky"] if sticky else [])
    attr = f' class="{" ".join(classes)}"' if classes else ""
    if text.startswith("`") and text.endswith("`"):
        return f"<td{attr}><code>{escape(text[1:-1])}</code></td>"
    return f"<td{attr}>{escape(text)}</td>"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]],
           best: Sequence[bool] | None = None,
           groups: Sequence[tuple[str, int]] | None = None) -> list[str]:
    out = ['<div class="wide"><table>']
    if groups:
        out.append("<colgroup>" + "".join(f'<col span="{n}">' for _, n in groups)
                   + "</colgroup>")
        out.append("<tr>" + "".join(f'<th class="group{" sticky" if i == 0 else ""}" '
                                    f'colspan="{n}">{escape(name)}</th>'
                                    for i, (name, n) in enumerate(groups)) + "</tr>")
    out.append("<tr>" + "".join(f'<th{" class=sticky" if i == 0 else ""}>{escape(h)}</th>'
                                for i, h in enumerate(header)) + "</tr>")
    for i, cells in enumerate(rows):
        cls = ' class="best"' if best is not None and best[i] else ""
        out.append(f"<tr{cls}>" + "".join(_cell(c, header[j], sticky=j == 0)
                                          for j, c in enumerate(cells)) + "</tr>")
    out.append("</table></div>")
    return out


def split_columns(header: Sequence[str], primary: str) -> tuple[list[tuple[str, list[str]]],
                                                                 list[str]]:
    """Return the main column groups (name, columns) and the detail columns of a table."""
    groups = []
    used: set[str] = set()
    for name, columns in MAIN_GROUPS:
        wanted = columns if columns else (primary, "primary: 95% CI")
        present = [c for c in wanted if c in header]
        used.update(present)
        if present:
            groups.append((name, present))
    details = ["model"] + [h for h in header if h not in used]
    return groups, details


def block_html(block: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    """One table: its main columns (grouped, model column sticky) and its details (collapsible)."""
    header, rows = table_rows(block, metrics)
    primary = str(block["primary_metric"].iloc[0]).replace("_", " ")
    groups, details = split_columns(header, primary)
    position = {h: i for i, h in enumerate(header)}
    main = [c for _, cols in groups for c in cols]
    best = [bool(b) for b in block["is_best"]]
    out = _table(main, [[r[position[c]] for c in main] for r in rows], best,
                 [(name, len(cols)) for name, cols in groups])
    out.append(f"<p>{escape(block_caption(block, metrics))}</p>")
    out.append("<details><summary>Details: every metric, budgets, timings, config</summary>")
    out += _table(details, [[r[position[c]] for c in details] for r in rows], best)
    out.append("</details>")
    return out


def markdown_html(lines: Sequence[str]) -> str:
    """Markdown lines (the extra sections of the .md) as HTML, tables kept in view."""
    text = _MARKDOWN.render("\n".join(lines))
    return text.replace("<table>", '<div class="wide"><table>').replace(
        "</table>", "</table></div>")


def render_html(title: str, summary: pd.DataFrame, metrics: Sequence[str],
                provenance: dict[tuple, str], ranks: pd.DataFrame, plots: Sequence[str],
                notes: Sequence[str], footer: Sequence[str],
                sections: Sequence[str] = ()) -> str:
    """Return the page: notes, one table per block with provenance, rank table, sections, plots.

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
    sections : sequence of str
        Markdown lines of the extra sections (:func:`eegbench.leaderboard.sections.
        extra_sections`), rendered after the rank table.
    """
    body = [f"<h1>{escape(title)}</h1>"] + [f"<p>{escape(n)}</p>" for n in notes]
    for key, block in summary.groupby(BLOCK_COLUMNS, sort=True):
        body.append(f"<h2>{escape(block_title(*key))}</h2>")
        body += block_html(block, metrics)
        if key in provenance:
            body.append(f'<p class="prov">Provenance: {escape(provenance[key])}</p>')
    if len(ranks):
        body += ["<h2>Mean rank across datasets</h2>", f"<p>{escape(RANKS_CAPTION)}</p>"]
        body += _table(*rank_rows(ranks))
    if sections:
        body.append(markdown_html(sections))
    if plots:
        body.append("<h2>Plots</h2>")
        for path in plots:
            body.append(f'<figure><img src="{escape(path)}" alt="{escape(path)}">'
                        f"<figcaption>{escape(path)}</figcaption></figure>")
    body += [f'<p class="prov">{escape(f)}</p>' for f in footer]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


def render_markdown_page(title: str, lines: Sequence[str]) -> str:
    """Return a page holding Markdown ``lines`` (tables kept in view), styled as the others."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + markdown_html(lines) + "\n</body>\n</html>\n")
