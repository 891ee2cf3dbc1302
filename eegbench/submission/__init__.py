"""Submission bundles: run a model on the official configurations; verify a bundle.

Command line: ``eegbench submission <run|verify> ...`` (:mod:`eegbench.cli.submission`).
"""
