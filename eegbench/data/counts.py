"""The windows per class of one recording against its recipe's ``expected.counts``.

A mismatch names the file, the expected and the found counts, and the likely cause read from
the file itself (its duration, the events that cross its edges, its EDF header, whether its
bytes match the recipe's pinned sha256).
"""

from __future__ import annotations

from typing import Any

from eegbench.data.errors import CountMismatch, RecipeError
from eegbench.data.recipe import Recipe
from eegbench.data.sources import SourceFile


def check_counts(rows: list[dict[str, Any]], recipe: Recipe, source: SourceFile,
                 duration_s: float | None = None, n_edge_dropped: int = 0) -> None:
    """Compare the windows per class of one file with the recipe's ``expected.counts``.

    Parameters
    ----------
    rows : list of dict
        The file's window rows (``label_name`` per window).
    recipe : Recipe
        The recipe.
    source : SourceFile
        The file (named in the error).
    duration_s : float, optional
        The recording's duration, used to suggest the likely cause of a mismatch.
    n_edge_dropped : int
        Events whose window crossed the recording's edges (also used for the suggestion).

    Raises
    ------
    CountMismatch
        Naming the file, the expected and the found counts and the likely cause, on any
        mismatch (or when no ``expected.counts`` rule matches the file).
    """
    try:
        expected = recipe.expected_counts(source)
    except RecipeError as err:
        raise CountMismatch(source.relpath, str(err)) from err
    found: dict[str, int] = {}
    for row in rows:
        found[row["label_name"]] = found.get(row["label_name"], 0) + 1
    wrong = {
        cls: n for cls, n in found.items()
        if cls not in expected or not expected[cls][0] <= n <= expected[cls][1]
    }
    wrong.update({cls: 0 for cls, (lo, _) in expected.items() if cls not in found and lo > 0})
    if not wrong:
        return
    want = {c: (lo if lo == hi else [lo, hi]) for c, (lo, hi) in expected.items()}
    raise CountMismatch(
        source.relpath,
        f"{source.relpath}: windows per class {found} do not match recipe '{recipe.name}' "
        f"expected.counts {want} (mismatch in {sorted(wrong)}). "
        + _count_hint(recipe, source, found, want, duration_s, n_edge_dropped),
    )


def _count_hint(recipe: Recipe, source: SourceFile, found: dict[str, int],
                want: dict[str, Any], duration_s: float | None, n_edge_dropped: int) -> str:
    """Suggest the likely cause of a count mismatch from what the file itself says."""
    n_found = sum(found.values())
    wspec = recipe.model.windows
    if wspec.kind == "fixed" and duration_s is not None:
        what = (f"The recording is {duration_s:.1f} s long, which holds exactly the {n_found} "
                f"window(s) found ({wspec.length_s} s, stride {wspec.stride_s} s)")
    elif duration_s is not None:
        what = (f"The recording is {duration_s:.1f} s long and holds {n_found + n_edge_dropped}"
                f" labelled event(s), {n_edge_dropped} of which cross its edges")
    else:
        what = f"The file gives {n_found} window(s)"
    from eegbench.data.readers import edf_header_check

    header = edf_header_check(source.path)
    if header is not None and not header[0]:
        return (f"{what}; {header[1]}: re-download it (python -m eegbench.data fetch "
                f"{recipe.name}).")
    if header is not None:
        what = f"{what}; {header[1]}"
    if source.sha256 is not None:
        return (f"{what}; its bytes match the sha256 pinned in the recipe, so it is the "
                "released file, not a truncated copy: update expected.counts for it (or "
                "exclude it with a reason if it is unusable).")
    return (f"{what}; it has no pinned sha256, so check it against the released version "
            "(a truncated download or another release?), then pin it and update "
            "expected.counts.")
