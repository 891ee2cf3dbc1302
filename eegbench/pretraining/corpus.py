"""Leave-one-dataset-out pretraining corpora, with an audit that the target is not in them.

A transfer study pretrains on every shared dataset of the target's modality except the target,
then evaluates on the target. "Except the target" is decided by the recordings, not by recipe
names: recipes that read the same folder (e.g. the four eegmmidb task recipes) are one dataset,
and :func:`assert_target_not_in_corpus` checks that no source file of the corpus has the same
sha256 as a source file of the target.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from eegbench.data.recipe import load_recipe, verify_checksums
from eegbench.resources import recipes_dir

logger = logging.getLogger(__name__)


class CorpusLeakError(ValueError):
    """A pretraining corpus contains recordings of the evaluation dataset."""


def _folder(recipe: Any) -> str:
    return str(recipe.source["folder"])


def leave_one_dataset_out(target: str, modality: str | None = None,
                          candidates: list[str] | None = None) -> list[dict[str, Any]]:
    """Return ``pretrain.datasets`` entries: every recipe of the target's modality but it.

    Parameters
    ----------
    target : str
        Recipe name of the evaluation dataset.
    modality : str, optional
        Modality of the corpus (default: the target's).
    candidates : list of str, optional
        Recipe names to choose from (default: every built-in recipe).

    Returns
    -------
    list of dict
        ``{"recipe": name, "subjects": None}`` for each recipe whose source folder differs
        from the target's, sorted by name.
    """
    target_recipe = load_recipe(target)
    modality = modality or target_recipe.modality
    names = candidates if candidates is not None else sorted(
        p.stem for p in recipes_dir().glob("*.yaml"))
    pool = []
    for name in names:
        recipe = load_recipe(name)
        if recipe.modality != modality or _folder(recipe) == _folder(target_recipe):
            continue
        pool.append({"recipe": recipe.name, "subjects": None})
    if not pool:
        raise ValueError(f"No {modality} dataset other than '{target}' to pretrain on; "
                         f"candidates were {names}.")
    logger.info("leave-one-dataset-out corpus for %s: %s", target,
                [e["recipe"] for e in pool])
    return pool


def source_hashes(recipe_name: str, data_root: Path) -> dict[str, str]:
    """Return ``{sha256: recipe/relpath}`` of every source file (and companion) of a recipe."""
    recipe = load_recipe(recipe_name)
    out = {}
    for source in recipe.discover(Path(data_root)):
        for rel, digest in verify_checksums(source).items():
            out[digest] = f"{recipe.name}/{rel}"
    return out


def assert_target_not_in_corpus(corpus: list[dict[str, Any]] | list[str], target: str,
                                data_root: Path) -> None:
    """Raise :class:`CorpusLeakError` if any corpus recording is a target recording.

    Compares the sha256 of every source file, so a copy of the target under another recipe
    or folder is caught too.
    """
    names = [e if isinstance(e, str) else e["recipe"] for e in corpus]
    if target in names:
        raise CorpusLeakError(f"The pretraining corpus lists the evaluation dataset "
                              f"'{target}' itself.")
    target_files = source_hashes(target, data_root)
    for name in names:
        shared = set(source_hashes(name, data_root)) & set(target_files)
        if shared:
            example = sorted(target_files[h] for h in shared)[:3]
            raise CorpusLeakError(
                f"The pretraining corpus dataset '{name}' contains {len(shared)} recording(s) "
                f"of the evaluation dataset '{target}' (same sha256), e.g. {example}.")
