"""Fold-parallel training: the folds of a protocol trained together in one process.

The networks of a job's folds (one architecture, each initialised from its fold's seed) are
stacked and run with :func:`torch.func.vmap` (:mod:`.stack`), with per-fold batching rules for
BatchNorm, dropout and, in exact mode, convolutions (:mod:`.functional`), one optimiser per
fold (:mod:`.optim`) and the epoch loop of :func:`eegbench.training.loop.fit_classifier` per
fold: own windows, batches, class weights, schedule, clipping, BatchNorm re-estimation and
early stopping (:mod:`.trainer`). :mod:`.support` says which networks can be stacked;
:mod:`eegbench.models.fold_parallel` trains benchmark models this way for
:func:`eegbench.evaluation.job.run_experiment` (``trainer.fold_parallel``).

On the CPU with one thread, exact mode reproduces fold-after-fold training bit for bit (with
several threads, some reductions are split differently: agreement to about 1e-7); fast mode
(grouped convolutions) agrees to float32 rounding at each step.
"""
