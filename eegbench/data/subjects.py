"""Subject ids of a recipe, and requested ids normalised to the recipe's own format.

A command line such as ``dataset.subjects=[00,01]`` reaches the configuration as integers
(``[0, 1]``), while the recordings name their subjects ``"00"``, ``"01"``. Both spellings must
select the same subjects *and* give the same configuration hash, so requested ids are
normalised to the ids the recipe pins (its ``source.sha256`` file list, read without touching
the data folder) before they enter a job's identity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from eegbench.data.recipe import Recipe


def pinned_groups(recipe: Recipe) -> list[dict[str, str]]:
    """Return the pattern groups of the recipe's pinned recordings (its task's, not excluded).

    Each group is the recipe's ``source.defaults`` updated with the named groups of
    ``source.pattern`` matched on one pinned file (``subject``, ``session``, ``run``, ...).
    """
    source = recipe.model.source
    pattern = re.compile(source.pattern)
    excluded = [re.compile(rule.files) for rule in recipe.model.exclude]
    defaults = {k: str(v) for k, v in (source.defaults or {}).items()}
    groups = []
    for rel in sorted(source.sha256 or {}):
        match = pattern.fullmatch(str(rel))
        if match and not any(rx.fullmatch(str(rel)) for rx in excluded) \
                and recipe.in_task(str(rel)):
            groups.append({**defaults, **{k: v for k, v in match.groupdict().items() if v}})
    return groups


def pinned_subject_ids(recipe: Recipe) -> list[str]:
    """Return the subject ids of the recipe's pinned recordings, sorted."""
    return sorted({g["subject"] for g in pinned_groups(recipe) if "subject" in g},
                  key=subject_sort_key)


def subject_sort_key(subject: str) -> tuple[int, int, str]:
    """Sort numeric ids by value (``"2"`` before ``"10"``), then other ids as text."""
    text = str(subject)
    return (0, int(text), text) if text.isdigit() else (1, 0, text)


def normalise_subject_id(subject: str | int, known: Iterable[str]) -> str:
    """Return ``subject`` in the spelling of ``known`` ids (``1`` -> ``"01"``).

    An id equal to a known one is kept; a numeric id matching exactly one known id by value
    takes that id's spelling; otherwise, when every known numeric id has the same number of
    digits (zero-padded), a numeric id is padded to it. Any other id is returned as text (the
    data loader then reports whether such a subject exists).
    """
    text = str(subject)
    known = list(known)
    if text in known:
        return text
    if not text.isdigit():
        return text
    numeric = [k for k in known if k.isdigit()]
    same_value = [k for k in numeric if int(k) == int(text)]
    if len(same_value) == 1:
        return same_value[0]
    widths = {len(k) for k in numeric}
    if len(widths) == 1 and len(numeric) > 1:
        return f"{int(text):0{widths.pop()}d}"
    return text


def normalise_subject_ids(subjects: Iterable[str | int], known: Iterable[str]) -> list[str]:
    """Normalise every id (:func:`normalise_subject_id`); sorted, each subject once.

    The order of a subject list never changes which windows are loaded, so it does not enter
    the identity either.
    """
    known = list(known)
    return sorted({normalise_subject_id(s, known) for s in subjects}, key=subject_sort_key)
