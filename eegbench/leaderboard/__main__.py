"""Build the leaderboard from a results store: ``eegbench leaderboard [--exp NAME]``.

Writes ``<out>/<name>.md``, ``.csv``, ``_per_subject.csv``, ``.html``, ``<name>_plots/`` and
the site's ``index.html``. By default the tables show what one experiment ran: its store
``<runs>/<exp>/results`` (``runs`` is ``$EEGBENCH_RUNS_DIR``, else ``runs``; ``--exp default``
for runs without ``+exp``) and they are written to ``<runs>/<exp>/leaderboard/``, never into
the committed ``leaderboard/`` folder, which only ``--committed`` rebuilds (from the shipped
rows, byte for byte, as listed in ``leaderboard/plan.yaml``). ``eegbench leaderboard plan``
runs the experiment plan's steps (:mod:`eegbench.leaderboard.plan`).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from eegbench.leaderboard import plan as experiment_plan
from eegbench.leaderboard.report import KINDS, PROBE_FILTERS, build
from eegbench.leaderboard.site import write_index
from eegbench.leaderboard.stats import TESTS
from eegbench.leaderboard.suite_spec import SuiteError
from eegbench.leaderboard.tables import DEFAULT_METRICS
from eegbench.resources import runs_dir
from eegbench.results.shipped import ShippedRowsError, read_sources, write_jsonl

logger = logging.getLogger("eegbench.leaderboard")

__all__ = ["build", "build_committed", "main"]


def build_committed(out: Path, plots: bool = True) -> list[Path]:
    """Rebuild every committed table listed in ``<out>/plan.yaml`` from the rows file it names.

    Returns the Markdown paths. The tables are a pure function of the rows, so a fresh
    clone reproduces the committed ``.md``, ``.csv`` and ``.html`` files byte for byte.
    """
    rows, tables = experiment_plan.committed_tables(Path(out) / experiment_plan.DEFAULT_PLAN.name)
    written = []
    for table in tables:
        paths = build(rows, Path(out), table.name, table.metrics or DEFAULT_METRICS,
                      "python -m eegbench.leaderboard --committed",
                      protocols=table.protocol, datasets=table.dataset, test=table.test,
                      plots=plots, probes=table.probes, families=table.family,
                      kind=table.kind)
        written.append(paths["md"])
    return written


#: The committed leaderboard folder (rebuilt by ``--committed`` only).
COMMITTED_DIR = Path("leaderboard")


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and build the leaderboard files (``plan ...``: run the plan)."""
    args_in = sys.argv[1:] if argv is None else list(argv)
    if args_in[:1] == ["plan"]:
        raise SystemExit(experiment_plan.main(args_in[1:]))
    parser = argparse.ArgumentParser(prog="eegbench leaderboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--exp", default="default", metavar="NAME",
                        help="the experiment (experiment.name) whose store is tabulated: "
                             "<runs>/<NAME>/results into <runs>/<NAME>/leaderboard "
                             "(default: default, the runs without +exp)")
    parser.add_argument("--results", type=Path, nargs="+", default=None,
                        help="results store folder(s) and / or shipped .jsonl row files, "
                             "combined (default: <runs>/<exp>/results)")
    parser.add_argument("--committed", action="store_true",
                        help="rebuild every committed table listed in leaderboard/plan.yaml "
                             "from the shipped rows (leaderboard/rows.jsonl) and its site "
                             "index; no model runs")
    parser.add_argument("--suite", default=None, metavar="NAME",
                        help="write the scorecard of suite NAME (conf/suite/NAME.yaml) from "
                             "--results (default: <runs>/NAME/results, where "
                             "'eegbench +suite=NAME' stores its rows) into --out (default: "
                             "<runs>/NAME/scorecard; with --committed: the shipped rows into "
                             "leaderboard/scorecards)")
    parser.add_argument("--export-rows", type=Path, default=None, metavar="JSONL",
                        help="write the rows of --results to this JSONL file and stop")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default: <runs>/<exp>/leaderboard; with "
                             "--committed: leaderboard)")
    parser.add_argument("--name", default=None,
                        help="base name of the files (default: the experiment's name)")
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
    parser.add_argument("--kind", choices=KINDS, default="all",
                        help="rows of classification tasks, regression tasks (a numeric "
                             "target, their own tables), or all (default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        _run(args, argv)
    # a wrong --results, no rows, a malformed plan
    except (FileNotFoundError, ShippedRowsError, experiment_plan.PlanError,
            SuiteError) as err:
        logger.error("%s", err)
        raise SystemExit(1) from None


def _run(args: argparse.Namespace, argv: list[str] | None) -> None:
    """Export rows, rebuild the committed tables, or build one leaderboard (``args``)."""
    if args.suite is not None:
        _scorecard(args, argv)
        return
    results = args.results or [runs_dir() / args.exp / "results"]
    if args.export_rows is not None:
        n = write_jsonl(read_sources(results), args.export_rows)
        logger.info("wrote %d rows to %s", n, args.export_rows)
        return
    if args.committed:
        out = args.out or COMMITTED_DIR
        build_committed(out, plots=not args.no_plots)
        write_index(out)
        return
    out = args.out or runs_dir() / args.exp / "leaderboard"
    argv_used = sys.argv[1:] if argv is None else argv
    command = "eegbench leaderboard " + shlex.join(argv_used)
    paths = build(results, out, args.name or args.exp, args.metrics, command.strip(),
                  protocols=args.protocol, datasets=args.dataset, test=args.test,
                  plots=not args.no_plots, probes=args.probes, families=args.family,
                  kind=args.kind)
    write_index(out)
    logger.info("leaderboard: %s (site: %s)", paths["html"], out / "index.html")


def _scorecard(args: argparse.Namespace, argv: list[str] | None) -> None:
    """Write the scorecard of ``args.suite`` (``--committed``: from the shipped rows)."""
    from eegbench.leaderboard.scorecard_render import build_suite_scorecard, committed_suite_rows

    if args.committed:
        out = args.out or COMMITTED_DIR / "scorecards"
        results = args.results or committed_suite_rows(out, args.suite)
        command = f"python -m eegbench.leaderboard --committed --suite {args.suite}"
    else:
        results = args.results or [runs_dir() / args.suite / "results"]
        out = args.out or runs_dir() / args.suite / "scorecard"
        argv_used = sys.argv[1:] if argv is None else argv
        command = "eegbench leaderboard " + shlex.join(argv_used)
    paths = build_suite_scorecard(args.suite, results, out, command, plots=not args.no_plots)
    logger.info("scorecard: %s", ", ".join(str(p) for p in paths.values()))


if __name__ == "__main__":
    main()
