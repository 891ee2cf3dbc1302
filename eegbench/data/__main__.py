"""Command line for datasets: ``python -m eegbench.data list``, ``fetch`` and ``pin``.

``list`` prints the catalogue (paradigm, subjects, sessions, channels, sampling rate, licence,
local files and cache state of every recipe). ``fetch`` downloads a dataset's missing files
from its recipe's ``source.base_url`` (or a mirror) with resume, retries and sha256
verification (see :mod:`eegbench.data.fetch`). ``pin <recipe> [--counts] [--write]`` computes
the recipe's ``source.sha256`` block (and ``expected.counts``) from the files under the data
root and shows the diff (see :mod:`eegbench.data.pin`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from eegbench.data.recipe import RecipeError, load_recipe


def _default_data_root() -> str:
    return os.environ.get("EEGBENCH_DATA_ROOT", "../shared/data")  # as conf/paths/default.yaml


def _default_cache() -> str:
    return os.environ.get("EEGBENCH_CACHE_DIR", ".eegbench_cache")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m eegbench.data", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    lst = sub.add_parser("list", help="show the dataset catalogue")
    lst.add_argument("--data-root", default=_default_data_root())
    lst.add_argument("--cache-dir", default=_default_cache())
    lst.add_argument("--moabb", action="store_true",
                     help="list every MOABB dataset class instead (paradigm, subjects, "
                          "sessions; no download); select one with dataset=moabb/<name>")
    fetch = sub.add_parser("fetch", help="download a dataset's missing files")
    fetch.add_argument("dataset", help="recipe name (see `list`) or path to a recipe .yaml")
    fetch.add_argument("--data-root", default=_default_data_root())
    fetch.add_argument("--base-url", default=None,
                       help="a mirror of the dataset folder, instead of the recipe's base_url")
    fetch.add_argument("--subjects", default=None, help="comma-separated subject ids")
    fetch.add_argument("--retries", type=int, default=4)
    fetch.add_argument("--backoff", type=float, default=1.0, help="first retry wait (s)")
    fetch.add_argument("--deadline", type=float, default=None,
                       help="seconds one file's download may take, retries included "
                            "(default 3600)")
    fetch.add_argument("--dry-run", action="store_true", help="only list what is missing")
    pin = sub.add_parser("pin", help="write a recipe's sha256 block (and expected.counts) "
                                     "from the files, showing the diff")
    pin.add_argument("recipe", help="recipe name or path to a recipe .yaml")
    pin.add_argument("--data-root", default=_default_data_root())
    pin.add_argument("--counts", action="store_true",
                     help="also count each file's windows per class (standardizes every file)")
    pin.add_argument("--task", action="append", default=None,
                     help="with --counts, only this task of a multi-task recipe (repeatable)")
    pin.add_argument("--write", action="store_true", help="write the recipe file")
    args = parser.parse_args(argv)
    level = logging.WARNING if args.command == "list" else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "list" and args.moabb:
        from eegbench.data.bridges.moabb_catalog import format_catalog, moabb_catalog

        sys.stdout.write(format_catalog(moabb_catalog()))
        return 0
    if args.command == "list":
        from eegbench.data.catalog import catalog, format_table, moabb_entries

        rows = catalog(Path(args.data_root), Path(args.cache_dir))
        sys.stdout.write(format_table(rows + moabb_entries(Path(args.cache_dir))))
        return 0
    if args.command == "pin":
        return _pin(args)
    from eegbench.data.fetch import FetchError, fetch_dataset, plan_fetch

    subjects = args.subjects.split(",") if args.subjects else None
    try:
        recipe = load_recipe(args.dataset)
        if args.dry_run:
            for item in plan_fetch(recipe, Path(args.data_root), args.base_url, subjects):
                sys.stdout.write(f"{item.relpath}\t{item.url}\n")
            return 0
        deadline = {} if args.deadline is None else {"deadline_s": args.deadline}
        done = fetch_dataset(recipe, Path(args.data_root), base_url=args.base_url,
                             subjects=subjects, retries=args.retries, backoff_s=args.backoff,
                             **deadline)
    except (RecipeError, FetchError) as err:
        logging.getLogger("eegbench.data").error("%s", err)
        return 1
    sys.stdout.write(f"{len(done)} file(s) downloaded and verified into "
                     f"{Path(args.data_root) / recipe.source['folder']}\n")
    return 0


def _pin(args: argparse.Namespace) -> int:
    """``pin``: print the diff (and write it with ``--write``); exit status 1 on an error."""
    from eegbench.data.pin import pin_recipe, write

    log = logging.getLogger("eegbench.data")
    try:
        result = pin_recipe(args.recipe, Path(args.data_root), counts=args.counts,
                            tasks=args.task)
    except (RecipeError, FileNotFoundError) as err:
        log.error("%s", err)
        return 1
    sys.stdout.write(result.diff or "The recipe already pins every file found"
                     + (" and describes its windows.\n" if args.counts else ".\n"))
    summary = [f"{len(result.added)} file(s) newly pinned", f"{len(result.changed)} pin(s) "
               "changed", f"{len(result.absent)} pinned file(s) absent locally (kept)"]
    if args.counts:
        summary.append(f"{sum(map(len, result.new_rules.values()))} count rule(s) added")
    sys.stdout.write("; ".join(summary) + "\n")
    for rel, message in result.errors.items():
        log.error("%s: not counted: %s", rel, message)
    if result.changed:
        log.warning("changed pins: %s (a released file changed, or a local copy is corrupt: "
                    "check before writing)", sorted(result.changed))
    if args.write and result.new_text != result.text:
        path = Path(args.recipe)
        if path.suffix not in {".yaml", ".yml"}:
            path = load_recipe(args.recipe).path
        try:
            write(result, path)
        except RecipeError as err:
            log.error("not written: %s", err)
            return 1
        sys.stdout.write(f"written to {path}\n")
    return 1 if result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
