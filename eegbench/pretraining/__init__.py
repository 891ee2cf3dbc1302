"""Self-supervised pretraining objectives that share one encoder, one trainer and one data pool.

Each objective is a small module (:mod:`eegbench.pretraining.objectives`) that turns a batch of
windows, already mapped onto the encoder's input contract, into a loss; the trainer
(:mod:`eegbench.pretraining.job`) and the pooled corpus are the same for every objective, so a
transfer study compares objectives and nothing else.
"""
