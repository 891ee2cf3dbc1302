"""Realistic preprocessing settings for each shared dataset, and loaders for its recordings.

Used by the equivalence tests and by ``benchmarks/preprocess_speed.py`` so that both run the
same recordings with the same parameters through the fused and the MNE pipelines. Files are
read and their channels selected exactly as the cache does (the datasets' recipes,
:func:`~eegbench.data.readers.read_source`, :func:`~eegbench.data.standardize.select_channels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mne
import numpy as np

from eegbench.data.preprocess.params import FilterParams, Recording, reference_indices
from eegbench.data.readers import read_source
from eegbench.data.recipe import SourceFile, load_recipe
from eegbench.data.standardize import UNIT_SCALE, select_channels


@dataclass(frozen=True)
class Case:
    """One shared dataset with the settings a benchmark user would pick for it.

    Attributes
    ----------
    name : str
        Dataset folder under the data root.
    recipes : tuple of str
        Recipes whose files make up the case (in order, duplicates skipped).
    params : FilterParams
        Output rate, band-pass and notch.
    reference : str | None
        ``"average"``, a channel name or ``None``.
    """

    name: str
    recipes: tuple[str, ...]
    params: FilterParams
    reference: str | None = None


_EEGMMIDB = tuple(f"physionet_eegmmidb_{task}_{kind}" for task in ("executed", "imagery")
                  for kind in ("lr", "fists_feet"))

CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case("physionet_eegmat", ("physionet_eegmat",), FilterParams(128.0, 0.5, 45.0, 50.0),
             "average"),
        Case("ssvep_exo_kalunga2016", ("ssvep_exo_kalunga2016",),
             FilterParams(128.0, 1.0, 40.0, 50.0)),
        Case("physionet_eegmmidb", _EEGMMIDB, FilterParams(128.0, 0.5, 40.0, 60.0), "average"),
        Case("eeglab_tutorial_mnetesting", ("eeglab_tutorial",),
             FilterParams(128.0, 1.0, 40.0, None), "average"),
        Case("meg_elekta_3ch_mnetesting", ("meg_elekta_3ch",),
             FilterParams(250.0, 1.0, 100.0, (50.0, 100.0))),
        Case("muse_visual_p300_eegnotebooks", ("muse_visual_p300_eegnotebooks",),
             FilterParams(128.0, 1.0, 30.0, 60.0)),
    )
}


def case_sources(case: Case, data_root: Path, max_files: int | None = None):
    """Return the (recipe, source file) pairs of ``case``, sorted by path, at most ``max_files``."""
    pairs: dict[Path, tuple] = {}
    for name in case.recipes:
        recipe = load_recipe(name)
        for source in recipe.discover(Path(data_root)):
            pairs.setdefault(source.path, (recipe, source))
    return [pairs[p] for p in sorted(pairs)][:max_files]


def load_raw(recipe, source: SourceFile) -> mne.io.BaseRaw:
    """Read one source file and keep the recipe's channels, as the cache does."""
    raw = read_source(source, recipe)
    raw.load_data(verbose="error")
    return select_channels(raw, recipe, source)


def to_recording(raw: mne.io.BaseRaw, reference: str | None, name: str = "raw") -> Recording:
    """Wrap a loaded Raw as a :class:`Recording` with reference indices and unit scales."""
    types = raw.get_channel_types()
    ref_from, ref_to = reference_indices(raw.ch_names, types, reference, raw.info["bads"])
    scale = np.array([UNIT_SCALE[t] for t in types])
    return Recording(raw.get_data(), raw.info["sfreq"], ref_from, ref_to, scale, name=name)


def load_case(case: Case, data_root: Path, max_files: int | None = None) -> list[Recording]:
    """Read up to ``max_files`` recordings of ``case`` as :class:`Recording` objects."""
    return [to_recording(load_raw(recipe, source), case.reference, name=str(source.path))
            for recipe, source in case_sources(case, data_root, max_files)]
