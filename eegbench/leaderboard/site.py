"""The leaderboard site: an index page linking every table page, its files and its plots.

``python -m eegbench.leaderboard.site [--exp NAME | --committed | --out DIR]`` (re)writes
``<out>/index.html`` from what is in the folder (default: ``<runs>/<exp>/leaderboard``, which
``eegbench leaderboard --exp NAME`` writes; ``--committed``: the committed ``leaderboard/``),
deterministically (sorted, no timestamps). Each table page (``<name>.html``, written by
:func:`eegbench.leaderboard.report.build`) is listed with its title, its Markdown / CSV /
per-subject CSV files and thumbnails of its plots; study outputs (``<study>/<dataset>/*.png``)
are listed too.
"""

from __future__ import annotations

import argparse
import logging
import re
from html import escape
from pathlib import Path

from eegbench.resources import runs_dir

logger = logging.getLogger(__name__)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
li { margin: 0.4em 0; } .files a { margin-right: 0.8em; font-size: 0.9em; }
.thumbs img { height: 7em; border: 1px solid #ddd; margin: 0.3em 0.3em 0 0; }
"""


def _title(page: Path) -> str:
    match = re.search(r"<title>(.*?)</title>", page.read_text(errors="replace"), re.S)
    return match.group(1).strip() if match else page.stem


def _link(path: Path, root: Path, text: str | None = None) -> str:
    rel = path.relative_to(root).as_posix()
    return f'<a href="{escape(rel)}">{escape(text or rel)}</a>'


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
            "<h2>Tables</h2>", "<ul>"]
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
