"""Evaluation jobs: dataset x model x protocol over seeds and folds, into the results store."""
