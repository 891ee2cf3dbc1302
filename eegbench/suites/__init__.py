"""Run a suite: every cell of ``conf/suite/<name>.yaml`` as one job of the evaluation command.

``eegbench +suite=<name> model=<model>`` runs the suite's cells one after the other (each a
normal run job: folds already in the store are skipped, so an interrupted suite resumes);
with ``-m`` and ``hydra/launcher=slurm`` each cell is submitted as its own job array.
The rows go to the suite's store ``<runs>/<name>/results`` (``experiment.name=<name>``) and
carry ``suite=<name>@<version>`` (the job's configuration holds the suite under ``suite``);
``eegbench leaderboard --suite <name>`` writes the scorecard; ``+suite_cells=<id>,<id>``
runs only those cells.

The suite as data (validation, cell identity, match rule) is
:mod:`eegbench.leaderboard.suite_spec`, re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from eegbench.leaderboard.suite_spec import (
    Cell,
    Suite,
    SuiteError,
    available_suites,
    cell_identity,
    cell_job_overrides,
    load_suite,
    row_matches,
)

__all__ = ["Cell", "Suite", "SuiteError", "available_suites", "cell_identity", "cell_job_overrides",
           "cell_overrides",
           "load_suite", "row_matches", "run_suite", "split_suite_args"]

logger = logging.getLogger(__name__)

#: Overrides a suite fixes for every cell (a command line may not set them).
FIXED_BY_CELL = ("dataset", "protocol", "preprocess", "trainer", "experiment.name", "suite")


def cell_overrides(suite: Suite, cell: Cell) -> list[str]:
    """Return the Hydra overrides that make a run job evaluate ``cell`` of ``suite``.

    The cell's own overrides (:func:`~eegbench.leaderboard.suite_spec.cell_job_overrides`),
    the suite's store (``experiment.name=<suite>``) and ``suite=<suite>`` (the suite's
    section of the job's configuration, recorded in the rows). ``local`` and ``hub`` cells
    run here; a ``moabb``-class cell raises a :class:`SuiteError` naming what it needs.
    """
    return cell_job_overrides(suite, cell) + [f"experiment.name={suite.name}",
                                              f"suite={suite.name}"]


def split_suite_args(argv: Sequence[str]) -> tuple[str | None, list[str] | None, list[str]]:
    """Return ``(suite name, cell ids or None, the other arguments)`` of a command line."""
    name, cells, rest = None, None, []
    for arg in argv:
        if arg.startswith("+suite="):
            name = arg.split("=", 1)[1]
        elif arg.startswith("+suite_cells="):
            cells = [c for c in arg.split("=", 1)[1].strip("[]").split(",") if c]
        else:
            rest.append(arg)
    return name, cells, rest


def run_suite(name: str, argv: Sequence[str], run_job: Callable[[list[str]], Any],
              cells: Sequence[str] | None = None) -> list[str]:
    """Run every (or the named) local cell of suite ``name`` through ``run_job(overrides)``.

    Hub cells (which download their dataset) run only when named in ``cells``.

    ``argv`` are the user's other arguments (``model=...``, ``seeds=[0,1]``, ``-m``, a
    launcher); they may not set what a cell fixes (:data:`FIXED_BY_CELL`). A failed cell is
    logged and the next one runs. Returns the ids of the cells that failed.
    """
    suite = load_suite(name)
    fixed = [a for a in argv if a.lstrip("+~").split("=", 1)[0] in FIXED_BY_CELL]
    if fixed:
        raise SuiteError(f"{suite.label} fixes {list(FIXED_BY_CELL)} for each cell; remove "
                         f"{fixed} from the command line.")
    chosen = [suite.cell(c) for c in cells] if cells else [
        c for c in suite.cells if c.source == "local"]
    skipped = [c.id for c in suite.cells if c not in chosen]
    if skipped:
        logger.info("%s: cells not run here: %s", suite.label, ", ".join(skipped))
    failed = []
    for i, cell in enumerate(chosen, 1):
        logger.info("%s: cell %d/%d %s", suite.label, i, len(chosen), cell.id)
        try:
            run_job(cell_overrides(suite, cell) + list(argv))
        except SystemExit as err:  # Hydra reports a failed job and exits
            if err.code not in (None, 0):
                failed.append(cell.id)
        except Exception as err:  # noqa: BLE001 - one failed cell must not stop the others
            logger.error("%s: cell %s failed: %s: %s", suite.label, cell.id,
                         type(err).__name__, err)
            failed.append(cell.id)
    if failed:
        logger.error("%s: %d of %d cell(s) failed: %s (failure records in the store; the "
                     "scorecard has no result of this model there)", suite.label, len(failed),
                     len(chosen), ", ".join(failed))
    return failed
