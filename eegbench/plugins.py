"""Discover Hydra config folders shipped by plugins.

A plugin package registered under one of eegbench's entry-point groups
(:data:`eegbench.registry.ENTRY_POINT_GROUPS`) may ship ``<package>/conf/<group>/<name>.yaml``
(e.g. ``conf/model/<name>.yaml``); :func:`plugin_search_paths` returns its
``file://<package dir>/conf`` for each such package, so that ``python -m eegbench
model=<name>`` finds its config.
"""

from __future__ import annotations

import importlib.util
import logging
from importlib.metadata import entry_points
from pathlib import Path

from eegbench.registry import ENTRY_POINT_GROUPS

logger = logging.getLogger(__name__)


def plugin_search_paths(groups: str | tuple[str, ...] = ENTRY_POINT_GROUPS) -> list[str]:
    """Return Hydra search-path entries (``file://...``) of plugin packages with a conf/."""
    paths: list[str] = []
    groups = (groups,) if isinstance(groups, str) else groups
    for ep in (ep for group in groups for ep in entry_points(group=group)):
        package = ep.value.split(":")[0].split(".")[0]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            if (Path(location) / "conf").is_dir():
                entry = f"file://{Path(location) / 'conf'}"
                if entry not in paths:
                    paths.append(entry)
    return paths


def searchpath_override(argv: list[str]) -> list[str]:
    """Return ``argv`` with a ``hydra.searchpath=[...]`` override for plugin configs added.

    Leaves ``argv`` unchanged when there are no plugin configs or the user sets the search
    path already.
    """
    if any(a.lstrip("+").startswith("hydra.searchpath") for a in argv):
        return argv
    paths = plugin_search_paths()
    if not paths:
        return argv
    logger.debug("plugin config folders: %s", paths)
    return [*argv, f"hydra.searchpath=[{','.join(paths)}]"]
