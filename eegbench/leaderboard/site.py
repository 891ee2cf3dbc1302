"""The leaderboard site: an index page linking every table page, its files and its plots.

``python -m eegbench.leaderboard.site [--exp NAME | --committed | --out DIR]`` (re)writes
``<out>/index.html`` from what is in the folder (default: ``<runs>/<exp>/leaderboard``, which
``eegbench leaderboard --exp NAME`` writes; ``--committed``: the committed ``leaderboard/``),
deterministically (sorted, no timestamps). Each table page (``<name>.html``, written by
:func:`eegbench.leaderboard.report.build`) is listed with its title, its Markdown / CSV /
per-subject CSV files and thumbnails of its plots; study outputs (``<study>/<dataset>/*.png``)
are listed too. The page opens with the verdict: for each table with foundation models (its
``<name>_foundation_vs_references.csv``, written by the same build), which foundation rows
are above, below or not different from the best *inductive* specialist and classical
references, by how much and with which p.
"""

from __future__ import annotations

import argparse
import logging
import re
from html import escape
from pathlib import Path

import pandas as pd

from eegbench.resources import runs_dir

logger = logging.getLogger(__name__)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
li { margin: 0.4em 0; } table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left;
         overflow-wrap: anywhere; }
th { background: #f0f0f0; } .verdict { font-size: 1.05em; }
.files a { margin-right: 0.8em; font-size: 0.9em; }
.thumbs img { height: 7em; border: 1px solid #ddd; margin: 0.3em 0.3em 0 0; }
"""


def _title(page: Path) -> str:
    match = re.search(r"<title>(.*?)</title>", page.read_text(errors="replace"), re.S)
    return match.group(1).strip() if match else page.stem


def _link(path: Path, root: Path, text: str | None = None) -> str:
    rel = path.relative_to(root).as_posix()
    return f'<a href="{escape(rel)}">{escape(text or rel)}</a>'


#: Level at which a foundation row is called above / below its reference (Holm-adjusted).
VERDICT_ALPHA = 0.05


def _outcome(row: pd.Series) -> str:
    p = row["p_holm"]
    if pd.isna(p) or p >= VERDICT_ALPHA:
        return "not different"
    return "above" if row["difference"] > 0 else "below"


def _named(rows: pd.DataFrame) -> str:
    return "; ".join(f"{r['foundation'].split(';')[0]}) {r['difference']:+.3f}, Holm p = "
                     f"{r['p_holm']:.2g}" for _, r in rows.iterrows())


def _verdict_text(where: str, family: str, part: pd.DataFrame) -> str:
    """One sentence group: inductive foundation rows against the best inductive reference."""
    inductive = part[part["test_data"] == "none"]
    ref = inductive.iloc[0]
    n = int(inductive["n_subjects"].max())
    units = f"{n} test subjects" if n > 1 else "one pooled test fold"
    text = (f"{where} ({ref['metric'].replace('_', ' ')}, {units}), best inductive "
            f"{family}: {ref['reference'].split(';')[0]}) at {ref['reference_score']:.3f}. ")
    if n < 2:
        return text + (f"{len(inductive)} inductive foundation configurations; one test unit "
                       "allows no test across subjects.")
    above = inductive[inductive["outcome"] == "above"]
    below = inductive[inductive["outcome"] == "below"]
    top = inductive.sort_values("difference", ascending=False, kind="stable").iloc[0]
    text += (f"Of {len(inductive)} inductive foundation configurations, {len(above)} are "
             f"significantly above it{' (' + _named(above) + ')' if len(above) else ''}, "
             f"{len(below)} significantly below{' (' + _named(below) + ')' if len(below) else ''}"
             f" and {len(inductive) - len(above) - len(below)} not significantly different "
             "(paired two-sided Wilcoxon across subjects, Holm-corrected, 0.05). Best: "
             f"{top['foundation'].split(';')[0]}) at {top['foundation_score']:.3f} "
             f"({top['difference']:+.3f}, Holm p = {top['p_holm']:.3g}).")
    others = part[part["test_data"] != "none"]
    if len(others):
        text += (f" {len(others)} transductive foundation configuration(s) are compared only "
                 "with transductive references (see the table page).")
    return text


def verdict_html(out: Path) -> list[str]:
    """The verdict of each ``*_foundation_vs_references.csv`` in ``out`` (inductive rows only).

    One paragraph per table and reference family: how many inductive foundation
    configurations are significantly above, below or not different from the best inductive
    reference (paired two-sided Wilcoxon across subjects, Holm-corrected within the page's
    comparisons), with the best foundation configuration's difference and p; then the
    comparisons themselves (collapsible). Transductive comparisons are counted apart.
    """
    body = []
    tables = [pd.read_csv(path, keep_default_na=False, na_values=[""]).assign(
        page=path.name.removesuffix("_foundation_vs_references.csv"))
        for path in sorted(out.glob("*_foundation_vs_references.csv"))]
    tables = [t for t in tables if len(t)]
    if not tables:
        return []
    table = pd.concat(tables, ignore_index=True)
    table["outcome"] = table.apply(_outcome, axis=1)
    # the tables with the most test subjects first (they answer the question best)
    order = table.groupby(["dataset", "protocol", "shots"])["n_subjects"].max()
    for (dataset, protocol, shots) in sorted(order.index, key=lambda k: (-order[k], k)):
        block = table[(table["dataset"] == dataset) & (table["protocol"] == protocol)
                      & (table["shots"] == shots)]
        block = block[block["page"] == block["page"].iloc[0]]  # one page's comparisons
        page = block["page"].iloc[0]
        where = f"{dataset} / {protocol}" + (f" / k = {shots}" if shots else "")
        for family, part in block.groupby("reference_family", sort=False):
            inductive = part[part["test_data"] == "none"]
            if inductive.empty:
                continue
            body.append(f'<p class="verdict">{escape(_verdict_text(where, family, part))}'
                        "</p>")
        rows = "".join(
            "<tr>" + "".join(f"<td>{escape(str(v).replace('`', ''))}</td>" for v in (
                r["test_data"], r["foundation"], f"best {r['reference_family']}",
                r["reference"], f"{r['difference']:+.3f}",
                "n/a" if pd.isna(r["p_holm"]) else f"{r['p_holm']:.3g}", r["outcome"]))
            + "</tr>" for _, r in block.iterrows())
        body.append(f"<details><summary>{escape(where)}: every comparison ({escape(page)})"
                    "</summary><table><tr><th>uses test data</th><th>foundation</th>"
                    "<th>vs</th><th>reference</th><th>difference</th><th>p (Holm)</th>"
                    f"<th>outcome</th></tr>{rows}</table></details>")
    if not body:
        return []
    return ["<h2>Verdict: foundation models against inductive references</h2>", *body]


def write_index(out: Path) -> Path:
    """Write ``out/index.html`` listing every table page and study figure in ``out``.

    Raises
    ------
    FileNotFoundError
        If ``out`` holds no table page.
    """
    out = Path(out)
    pages = sorted(p for p in out.glob("*.html") if p.name != "index.html")
    if not pages:
        raise FileNotFoundError(f"No leaderboard page (*.html) in {out}: build the tables "
                                "first (python -m eegbench.leaderboard).")
    body = ["<h1>eegbench leaderboard</h1>",
            "<p>Every table below is rebuilt from the results rows by the command in its "
            "provenance footer; leaderboard/README.md explains the columns and caveats.</p>",
            *verdict_html(out), "<h2>Tables</h2>", "<ul>"]
    for page in pages:
        files = [out / f"{page.stem}{suffix}" for suffix in (".md", ".csv",
                                                              "_per_subject.csv")]
        links = " ".join(_link(f, out, f.name) for f in files if f.is_file())
        plots = sorted((out / f"{page.stem}_plots").glob("*.png"))
        thumbs = "".join(f'<a href="{escape(p.relative_to(out).as_posix())}"><img src="'
                         f'{escape(p.relative_to(out).as_posix())}" alt="{escape(p.stem)}"></a>'
                         for p in plots)
        body.append(f"<li>{_link(page, out, _title(page))} <span class=\"files\">{links}</span>"
                    + (f'<div class="thumbs">{thumbs}</div>' if thumbs else "") + "</li>")
    body.append("</ul>")
    figures = sorted(p for p in out.glob("*/*/*.png")
                     if not p.parent.parent.name.endswith("_plots"))
    if figures:
        body += ["<h2>Studies</h2>", "<ul>"]
        body += [f'<li>{_link(p, out)}<div class="thumbs"><img src="'
                 f'{escape(p.relative_to(out).as_posix())}" alt="{escape(p.stem)}"></div></li>'
                 for p in figures]
        body.append("</ul>")
    html = ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>eegbench leaderboard</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
    path = out / "index.html"
    path.write_text(html)
    logger.info("wrote %s (%d tables, %d study figures)", path, len(pages), len(figures))
    return path


def main(argv: list[str] | None = None) -> None:
    """Command line: write the index page."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--exp", default="default", metavar="NAME",
                        help="index <runs>/<NAME>/leaderboard (default: default)")
    parser.add_argument("--committed", action="store_true",
                        help="index the committed leaderboard/ folder")
    parser.add_argument("--out", type=Path, default=None,
                        help="leaderboard folder (overrides --exp and --committed)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out = args.out or (Path("leaderboard") if args.committed
                       else runs_dir() / args.exp / "leaderboard")
    write_index(out)


if __name__ == "__main__":
    main()
