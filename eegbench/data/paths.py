"""Confinement of the paths a recipe names: they stay below the data root."""

from __future__ import annotations

import os
from pathlib import Path

from eegbench.data.errors import RecipeError


def confine(path: Path, root: Path, key: str, recipe: str) -> None:
    """Refuse a recipe-derived ``path`` outside ``root``, lexically and after resolving links.

    A dataset folder that is itself a symbolic link placed in the data root (data stored on
    another disk) is the user's choice and is followed; anything else must resolve inside the
    data root or inside that dataset folder.

    Raises
    ------
    RecipeError
        Naming the recipe key and the path (never the file's content).
    """
    root_abs = Path(os.path.abspath(root))
    path_abs = Path(os.path.abspath(path))
    if not path_abs.is_relative_to(root_abs):
        raise RecipeError(f"Invalid value for the '{key}' parameter of recipe '{recipe}': "
                          f"{path} lies outside {root}; recipe paths must stay below the data "
                          "root.")
    if not path_abs.exists():
        return
    allowed = [root_abs.resolve()]
    rel = path_abs.relative_to(root_abs)
    if rel.parts:
        top = root_abs / rel.parts[0]  # the dataset folder, possibly a link set by the user
        if top.is_symlink():
            allowed.append(top.resolve())
    resolved = path_abs.resolve()
    if not any(resolved.is_relative_to(a) for a in allowed):
        raise RecipeError(f"Invalid value for the '{key}' parameter of recipe '{recipe}': "
                          f"{path} resolves to {resolved}, outside the data root {allowed[0]} "
                          "(a symbolic link leaving the data root is refused).")
