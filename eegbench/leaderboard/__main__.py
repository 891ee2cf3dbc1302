"""Build the leaderboard from a results store: ``python -m eegbench.leaderboard``.

Writes ``<out>/<name>.md``, ``.csv``, ``_per_subject.csv``, ``.html`` and ``<name>_plots/``.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from eegbench.leaderboard.report import PROBE_FILTERS, build
from eegbench.leaderboard.stats import TESTS
from eegbench.leaderboard.tables import DEFAULT_METRICS
from eegbench.results.shipped import ShippedRowsError, read_sources, write_jsonl

logger = logging.getLogger("eegbench.leaderboard")

__all__ = ["build", "build_committed", "main"]


def build_committed(out: Path, plots: bool = True) -> list[Path]:
    """Rebuild every table of ``<out>/tables.yaml`` from the rows file it names.

    Returns the Markdown paths. The tables are a pure function of the rows, so a fresh
    clone reproduces the committed ``.md``, ``.csv`` and ``.html`` files byte for byte.
    """
    import yaml

    spec = yaml.safe_load((Path(out) / "tables.yaml").read_text())
    rows = Path(out) / spec["rows"]
    written = []
    for table in spec["tables"]:
        paths = build(rows, Path(out), table["name"], table.get("metrics", DEFAULT_METRICS),
                      "python -m eegbench.leaderboard --committed",
                      protocols=table.get("protocol"), datasets=table.get("dataset"),
                      test=table.get("test", "wilcoxon"), plots=plots,
                      probes=table.get("probes", "include"), families=table.get("family"))
        written.append(paths["md"])
    return written


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and build the leaderboard files."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, nargs="+", default=[Path("runs/results")],
                        help="results store folder(s) and / or shipped .jsonl row files, "
                             "combined (default: runs/results)")
    parser.add_argument("--committed", action="store_true",
                        help="rebuild every committed table listed in <out>/tables.yaml from "
                             "the shipped rows (<out>/rows.jsonl); no model runs")
    parser.add_argument("--export-rows", type=Path, default=None, metavar="JSONL",
                        help="write the rows of --results to this JSONL file and stop")
    parser.add_argument("--out", type=Path, default=Path("leaderboard"),
                        help="output folder (default: leaderboard)")
    parser.add_argument("--name", default="loso", help="base name of the files (default: loso)")
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS),
                        help="metrics shown; the first ranks and is tested")
    parser.add_argument("--protocol", nargs="+", default=None,
                        help="only these protocols (default: all in the store)")
    parser.add_argument("--dataset", nargs="+", default=None,
                        help="only these datasets (default: all in the store)")
    parser.add_argument("--family", nargs="+", default=None,
                        help="only these model families: classical, specialist, foundation "
                             "(default: all)")
    parser.add_argument("--test", choices=TESTS, default="wilcoxon",
                        help="paired test across subjects (default: wilcoxon)")
    parser.add_argument("--no-plots", action="store_true", help="skip the plots")
    parser.add_argument("--probes", choices=PROBE_FILTERS, default="include",
                        help="layer-wise probe rows: include (default), exclude, or only")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        _run(args, argv)
    except (FileNotFoundError, ShippedRowsError) as err:  # a wrong --results, no rows
        logger.error("%s", err)
        raise SystemExit(1) from None


def _run(args: argparse.Namespace, argv: list[str] | None) -> None:
    """Export rows, rebuild the committed tables, or build one leaderboard (``args``)."""
    if args.export_rows is not None:
        n = write_jsonl(read_sources(args.results), args.export_rows)
        logger.info("wrote %d rows to %s", n, args.export_rows)
        return
    if args.committed:
        build_committed(args.out, plots=not args.no_plots)
        return
    argv_used = sys.argv[1:] if argv is None else argv
    command = "python -m eegbench.leaderboard " + shlex.join(argv_used)
    paths = build(args.results, args.out, args.name, args.metrics, command.strip(),
                  protocols=args.protocol, datasets=args.dataset, test=args.test,
                  plots=not args.no_plots, probes=args.probes, families=args.family)
    logger.info("leaderboard: %s", paths["html"])


if __name__ == "__main__":
    main()
