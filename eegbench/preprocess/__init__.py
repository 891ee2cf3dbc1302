"""Preprocessing backends beyond the MNE path of :mod:`eegbench.data.standardize`.

- :mod:`~eegbench.preprocess.fused`: batched torch pipeline (``preprocess=gpu_fused``).
- :mod:`~eegbench.preprocess.mne_ref`: the MNE reference pipeline on arrays.
- :mod:`~eegbench.preprocess.raw_backend`: runs a backend on an :class:`mne.io.Raw`.
- :mod:`~eegbench.preprocess.cases`: per-dataset settings for tests and the benchmark.
"""
