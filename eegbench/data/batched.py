"""Standardize the recordings of a dataset one file at a time or in batches (for the cache).

``preprocess=mne`` standardizes file by file (:func:`~eegbench.data.standardize.standardize_file`).
``preprocess=gpu_fused`` reads and checks the files of a batch one by one
(:func:`~eegbench.data.standardize.read_checked`), filters and resamples all of them in one
fused call (:func:`~eegbench.data.preprocess.raw_backend.filter_resample_raws`: all channels of
all recordings of a sampling rate in one batched pass), then windows each recording exactly
as the per-file path does (:func:`~eegbench.data.standardize.window_recording`). A batch
holds at most ``spec.batch_max_files`` recordings and ``spec.batch_max_samples``
channel-samples (at the source rate, after channel selection), which bounds peak memory; a
single recording larger than the bound forms a batch of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from eegbench.data.readers import read_recording
from eegbench.data.recipe import CountMismatch, CountMismatches, Recipe, SourceFile
from eegbench.data.standardize import (
    CheckedRecording,
    PreprocessSpec,
    StandardizedRecording,
    read_checked,
    standardize_recording,
    window_recording,
)

logger = logging.getLogger(__name__)


def iter_standardized(
    recipe: Recipe, sources: list[SourceFile], spec: PreprocessSpec
) -> Iterator[StandardizedRecording]:
    """Yield every source standardized, in the order of ``sources``.

    Batches the filtering for ``spec.backend == "gpu_fused"``; file by file otherwise.
    Every recording is yielded with its quality report, including one that the quality
    policy ``drop_file`` leaves out (``dropped``, no windows).

    Raises
    ------
    RecipeError, CountMismatches
        Naming the file, on any input problem of any recording.
    ValueError
        On a batch limit below 1.
    """
    mismatches: list[CountMismatch] = []
    if spec.backend != "gpu_fused":
        for source in sources:
            raw, warnings = read_recording(source, recipe)
            try:
                yield standardize_recording(source, raw, recipe, spec, warnings)
            except CountMismatch as err:  # collected: all mismatching files in one error
                mismatches.append(err)
            del raw
    else:
        for batch in iter_batches(recipe, sources, spec):
            yield from _standardize_batch(recipe, batch, spec, mismatches)
    if mismatches:
        raise CountMismatches(recipe.name, mismatches, len(sources))


def iter_batches(
    recipe: Recipe, sources: list[SourceFile], spec: PreprocessSpec
) -> Iterator[list[CheckedRecording]]:
    """Read and check ``sources`` in order, grouped into batches within the spec's limits."""
    max_files, max_samples = int(spec.batch_max_files), int(spec.batch_max_samples)
    if max_files < 1 or max_samples < 1:
        raise ValueError(
            "Invalid value for the 'preprocess.batch_max_files' / 'preprocess."
            "batch_max_samples' parameters: both must be >= 1, but got "
            f"{spec.batch_max_files!r} and {spec.batch_max_samples!r}."
        )
    batch: list[CheckedRecording] = []
    held = 0
    for source in sources:
        raw, warnings = read_recording(source, recipe)
        rec = read_checked(source, raw, recipe, warnings)
        del raw
        if batch and (len(batch) >= max_files or held + rec.n_samples > max_samples):
            yield batch
            batch, held = [], 0
        batch.append(rec)
        held += rec.n_samples
    if batch:
        yield batch


def _standardize_batch(
    recipe: Recipe, batch: list[CheckedRecording], spec: PreprocessSpec,
    mismatches: list[CountMismatch],
) -> Iterator[StandardizedRecording]:
    from eegbench.data.preprocess.raw_backend import filter_resample_raws

    kept = [r for r in batch if not r.dropped]
    logger.info("gpu_fused: filtering %d recording(s), %.1f M channel-samples, in one call",
                len(kept), sum(r.n_samples for r in kept) / 1e6)
    filtered = dict(zip((id(r) for r in kept),
                        filter_resample_raws([r.raw for r in kept], spec) if kept else [],
                        strict=True))
    for rec in batch:  # the inputs are no longer needed
        rec.raw = None
    for rec in batch:
        if rec.dropped:
            yield StandardizedRecording(rec.source, None, [], {}, rec.quality)
            continue
        raw = filtered.pop(id(rec))
        try:
            yield StandardizedRecording(
                rec.source, *window_recording(rec.source, raw, rec.events, recipe),
                quality=rec.quality)
        except CountMismatch as err:  # collected by iter_standardized
            mismatches.append(err)
        del raw
