"""Preprocessing backends beyond the MNE path of :mod:`eegbench.data.standardize`.

- :mod:`~eegbench.data.preprocess.fused`: batched torch pipeline (``preprocess=gpu_fused``).
- :mod:`~eegbench.data.preprocess.mne_ref`: the MNE reference pipeline on arrays.
- :mod:`~eegbench.data.preprocess.raw_backend`: runs a backend on an :class:`mne.io.Raw`.
- :mod:`~eegbench.data.preprocess.cases`: per-dataset settings for tests and the benchmark.
"""
