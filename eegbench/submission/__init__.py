"""Submission bundles: run a model on the official configurations; verify a bundle.

Command line: ``python -m eegbench.submission <run|verify> ...``.
"""
