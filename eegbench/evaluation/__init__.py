"""Evaluation jobs: dataset x model x protocol over seeds and folds, into the results store.

:mod:`~eegbench.evaluation.job` runs a job (:func:`~eegbench.evaluation.job.run_experiment`);
it receives the typed :class:`eegbench.config.Job`, never a Hydra object.
"""
