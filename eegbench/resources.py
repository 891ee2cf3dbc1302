"""Locate the shipped configuration and recipe folders (checkout or installed wheel)."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _resource_dir(name: str) -> Path:
    """Return ``eegbench/<name>`` inside a wheel, else ``<checkout>/<name>``."""
    packaged = _PACKAGE_DIR / name
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"eegbench resource folder '{name}' not found: looked in {packaged} (installed wheel) "
        f"and {checkout} (source checkout). Reinstall eegbench."
    )


def config_dir() -> Path:
    """Return the folder holding the Hydra configuration tree (``conf/``)."""
    return _resource_dir("conf")


def recipes_dir() -> Path:
    """Return the folder holding the built-in dataset recipes (``data_recipes/``)."""
    return _resource_dir("data_recipes")


def runs_dir() -> Path:
    """Return the runs folder: ``$EEGBENCH_RUNS_DIR``, else ``runs`` (conf/paths/default.yaml).

    Each experiment keeps its results store in ``<runs>/<experiment.name>/results``.
    """
    return Path(os.environ.get("EEGBENCH_RUNS_DIR") or "runs")
