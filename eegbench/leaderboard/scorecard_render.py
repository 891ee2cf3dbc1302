"""Write a :class:`~eegbench.leaderboard.scorecard.Scorecard`: Markdown, CSV, HTML and a plot.

Every file is a pure function of the scorecard (no timestamps), so the committed scorecard is
rebuilt byte for byte from the shipped rows.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from eegbench.leaderboard.escape import md_heading, md_table, md_text  # noqa: E402
from eegbench.leaderboard.html import _STYLE, _table  # noqa: E402
from eegbench.leaderboard.scorecard import Scorecard  # noqa: E402

CELL_HEADER = ["configuration", "units", "score [95% CI]", "p vs chance", "vs best baseline",
               "p (Wilcoxon)", "norm. rank", "budget"]
SUMMARY_HEADER = ["configuration", "family", "cells", "mean norm. rank",
                  "W/T/L vs best baseline", "Stouffer Z", "p"]
VERSUS_HEADER = ["configuration", "baseline", "cells", "W/T/L", "Stouffer Z", "p"]
MATCH_RULE = ("A stored result counts for a cell when its dataset, task, protocol (name and "
              "parameters), preprocessing and primary metric equal the cell's "
              "(eegbench/leaderboard/suite_spec.py, row_matches); the budget is each model's "
              "own and is shown. Units are test subjects (scores averaged over seeds and "
              "folds); a one-subject cell uses its folds. p vs chance: one-sided sign-flip "
              "test over units; vs best baseline: paired difference (positive = better) to "
              "the cell's best baseline, two-sided Wilcoxon over shared units; normalized "
              "rank 0 = best of the cell, 1 = last. Across cells: win / loss needs p < 0.05; "
              "Stouffer's Z combines per-cell signed z weighted by sqrt(units).")


def _num(value: float, digits: int = 3) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.{digits}f}"


def _p(value: float) -> str:
    if value is None or math.isnan(value):
        return ""
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _cell_rows(block: pd.DataFrame) -> list[list[str]]:
    rows = []
    for _, r in block.iterrows():
        ci = (f" [{_num(r['ci_low'])}, {_num(r['ci_high'])}]"
              if not math.isnan(r["ci_low"]) else "")
        diff = ("best baseline" if r["configuration"] == r["best_baseline"]
                else (f"{r['diff_vs_best_baseline']:+.3f}"
                      if not math.isnan(r["diff_vs_best_baseline"]) else ""))
        rows.append([r["configuration"] + (" (baseline)" if r["is_baseline"] else ""),
                     f"{r['n_units']} {r['unit']}s", f"{_num(r['mean'])}{ci}",
                     _p(r["p_chance"]), diff, _p(r["p_vs_best_baseline"]),
                     _num(r["normalized_rank"], 2), r["budget"]])
    return rows


def _summary_rows(card: Scorecard) -> list[list[str]]:
    return [[r["configuration"], r["family"], f"{r['n_cells']}",
             _num(r["mean_normalized_rank"], 2), f"{r['wins']}/{r['ties']}/{r['losses']}",
             _num(r["stouffer_z"], 2), _p(r["stouffer_p"])] for _, r in card.summary.iterrows()]


def _versus_rows(card: Scorecard) -> list[list[str]]:
    if card.versus.empty:
        return []
    return [[r["configuration"], r["baseline"], f"{r['n_cells']}",
             f"{r['wins']}/{r['ties']}/{r['losses']}", _num(r["stouffer_z"], 2),
             _p(r["stouffer_p"])] for _, r in card.versus.iterrows()]


def _absent(card: Scorecard, cell_id: str) -> str:
    """Configurations with results on other cells (two or more) but none on ``cell_id``.

    They were not run on the cell, or the model refused its data (e.g. a channel vocabulary
    without the cell's sensors).
    """
    present = set(card.cells.loc[card.cells["cell"] == cell_id, "configuration"])
    absent = [c for c, n in zip(card.summary["configuration"], card.summary["n_cells"],
                                strict=True) if c not in present and n >= 2]
    return f"; no result for: {', '.join(absent)}" if absent and present else ""


def _cell_sections(card: Scorecard):
    """Yield (cell, title, caption, table rows or None) in the suite's order."""
    for cell in card.suite.cells:
        title = f"{cell.id}: {cell.dataset} / {cell.task} / {cell.protocol}"
        caption = (f"primary metric {cell.primary_metric}; paradigm {cell.paradigm}; "
                   f"baselines {', '.join(cell.baselines)}; verified: {cell.verified}")
        if cell.id not in card.empty:
            caption += _absent(card, cell.id)
        if cell.id in card.empty:
            yield cell, title, caption, None
        else:
            yield cell, title, caption, _cell_rows(card.cells[card.cells["cell"] == cell.id])


def to_markdown(card: Scorecard, command: str) -> str:
    """Return the scorecard as Markdown."""
    suite = card.suite
    lines = [md_heading(1, f"Scorecard: {suite.label}"), "", md_text(card.headline), "",
             md_text(suite.description.strip()), "", f"Cite as: {md_text(suite.citation)}",
             "", md_text(MATCH_RULE), ""]
    for cell, title, caption, rows in _cell_sections(card):
        lines += [md_heading(2, title), "", md_text(caption), ""]
        lines += (md_table(CELL_HEADER, rows) if rows is not None
                  else [md_text(f"Empty: {card.empty[cell.id]}.")])
        lines.append("")
    lines += [md_heading(2, "Across cells"), ""]
    lines += md_table(SUMMARY_HEADER, _summary_rows(card)) + [""]
    lines += [md_heading(2, "Against each baseline"), ""]
    lines += md_table(VERSUS_HEADER, _versus_rows(card)) + [""]
    lines += [f"Built by `{md_text(command)}`.", ""]
    return "\n".join(lines)


def to_html(card: Scorecard, command: str, plot: str | None) -> str:
    """Return the scorecard as a self-contained HTML page (styles of the leaderboard)."""
    suite = card.suite
    body = [f"<h1>Scorecard: {escape(suite.label)}</h1>",
            f"<p><strong>{escape(card.headline)}</strong></p>",
            f"<p>{escape(suite.description.strip())}</p>",
            f"<p>Cite as: {escape(suite.citation)}</p>",
            f'<p class="prov">{escape(MATCH_RULE)}</p>']
    for cell, title, caption, rows in _cell_sections(card):
        body += [f"<h2>{escape(title)}</h2>", f'<p class="prov">{escape(caption)}</p>']
        if rows is None:
            body.append(f"<p>Empty: {escape(card.empty[cell.id])}.</p>")
        else:
            body += _table(CELL_HEADER, rows)
    body += ["<h2>Across cells</h2>"] + _table(SUMMARY_HEADER, _summary_rows(card))
    versus = _versus_rows(card)
    if versus:
        body += ["<h2>Against each baseline</h2>"] + _table(VERSUS_HEADER, versus)
    if plot:
        body.append(f'<figure><img src="{escape(plot)}" alt="normalized rank per cell">'
                    f"<figcaption>{escape(plot)}</figcaption></figure>")
    body.append(f'<p class="prov">Built by <code>{escape(command)}</code>.</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>Scorecard: {escape(suite.label)}</title>\n<style>{_STYLE}</style>\n"
            "</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def rank_plot(card: Scorecard, path: Path) -> Path | None:
    """Heat map of each configuration's normalized rank per cell (empty cells left blank)."""
    if card.cells.empty:
        return None
    cells = [c.id for c in card.suite.cells]
    configs = list(card.summary["configuration"])
    grid = np.full((len(configs), len(cells)), np.nan)
    for _, r in card.cells.iterrows():
        grid[configs.index(r["configuration"]), cells.index(r["cell"])] = r["normalized_rank"]
    fig, ax = plt.subplots(figsize=(1.3 * len(cells) + 4, 0.32 * len(configs) + 1.8))
    image = ax.imshow(grid, cmap="viridis_r", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(cells)), cells, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(configs)), configs, fontsize=8)
    fig.colorbar(image, ax=ax, label="normalized rank (0 = best of the cell)")
    ax.set_title(f"{card.suite.label}: normalized rank per cell", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path


def write_scorecard(card: Scorecard, out: Path, command: str, plots: bool = True
                    ) -> dict[str, Path]:
    """Write ``<out>/<suite>.md``, ``.csv``, ``.html`` and ``.png``; return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = card.suite.name
    paths = {"md": out / f"{stem}.md", "csv": out / f"{stem}.csv", "html": out / f"{stem}.html"}
    plot = rank_plot(card, out / f"{stem}.png") if plots else None
    if plot is not None:
        paths["png"] = plot
    paths["md"].write_text(to_markdown(card, command))
    frame = card.cells.copy()
    if not frame.empty:
        frame.insert(0, "suite", card.suite.label)
    frame.to_csv(paths["csv"], index=False, float_format="%.6g")
    paths["html"].write_text(to_html(card, command, plot.name if plot else None))
    return paths


def build_suite_scorecard(suite_name: str, sources: list[Path] | Path, out: Path, command: str,
                          plots: bool = True) -> dict[str, Path]:
    """Load the suite and the rows of ``sources`` (stores and / or .jsonl); write the files."""
    from eegbench.leaderboard.scorecard import build_scorecard
    from eegbench.leaderboard.suite_spec import load_suite
    from eegbench.results.shipped import read_sources

    card = build_scorecard(load_suite(suite_name), read_sources(sources))
    return write_scorecard(card, out, command, plots=plots)


def committed_suite_rows(scorecards: Path, suite: str) -> list[Path]:
    """Return the shipped rows of a committed scorecard.

    ``<leaderboard>/rows.jsonl`` (the committed tables' rows) and, when it exists,
    ``<scorecards>/<suite>.rows.jsonl`` (the rows run for the suite's missing cells).
    """
    own = Path(scorecards) / f"{suite}.rows.jsonl"
    return [Path(scorecards).parent / "rows.jsonl"] + ([own] if own.is_file() else [])
