"""Build the leaderboard from a results store: ``python -m eegbench.leaderboard``."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from eegbench.leaderboard.tables import summarize, to_markdown
from eegbench.results.store import ResultStore

logger = logging.getLogger("eegbench.leaderboard")

DEFAULT_METRICS = ("balanced_accuracy", "roc_auc", "cohen_kappa", "f1_weighted")


def build(results_dir: Path, out_dir: Path, name: str, metrics=DEFAULT_METRICS,
          command: str | None = None) -> Path:
    """Write ``<out_dir>/<name>.md`` and ``<name>.csv`` from the store; return the .md path.

    Raises
    ------
    FileNotFoundError
        If the store has no rows.
    """
    frame = ResultStore(results_dir).to_frame()
    if frame.empty:
        raise FileNotFoundError(f"No result rows in {results_dir / 'rows'}: run "
                                "`python -m eegbench +exp=loso` first.")
    summary = summarize(frame, metrics)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary.to_csv(out_dir / f"{name}.csv", index=False, float_format="%.6g")
    revisions = sorted(frame["git_revision"].unique())
    versions = frame["versions"].iloc[0]
    text = [f"# eegbench leaderboard: {name}", "",
            "Scores are mean ± std over test subjects (each subject first averaged over seeds).",
            "", to_markdown(summary, metrics), "## Provenance", "",
            f"- rows: {len(frame)} from `{results_dir}`",
            f"- git revision(s): {', '.join(f'`{r}`' for r in revisions)}",
            "- versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
            f"- regenerate: `{command or 'python -m eegbench.leaderboard'}`", ""]
    path = out_dir / f"{name}.md"
    path.write_text("\n".join(text))
    logger.info("wrote %s and %s", path, out_dir / f"{name}.csv")
    return path


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and build the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("runs/results"),
                        help="results store folder (default: runs/results)")
    parser.add_argument("--out", type=Path, default=Path("leaderboard"),
                        help="output folder (default: leaderboard)")
    parser.add_argument("--name", default="loso", help="table name (default: loso)")
    parser.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    argv_used = sys.argv[1:] if argv is None else argv
    command = "python -m eegbench.leaderboard " + shlex.join(argv_used)
    path = build(args.results, args.out, args.name, args.metrics, command.strip())
    logger.info("leaderboard table: %s", path)


if __name__ == "__main__":
    main()
