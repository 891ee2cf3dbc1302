"""Discover Hydra config folders shipped by plugins.

A plugin package registered under one of eegbench's entry-point groups
(:data:`eegbench.registry.ENTRY_POINT_GROUPS`) may ship ``<package>/conf/<group>/<name>.yaml``
(e.g. ``conf/model/<name>.yaml``); :func:`plugin_search_paths` returns its
``file://<package dir>/conf`` for each such package; the command line adds them to Hydra's
search path (:func:`eegbench.cli.main.searchpath_override`), so that ``eegbench model=<name>``
finds its config.
"""

from __future__ import annotations

import importlib.util
from importlib.metadata import entry_points
from pathlib import Path

from eegbench.registry import ENTRY_POINT_GROUPS


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
