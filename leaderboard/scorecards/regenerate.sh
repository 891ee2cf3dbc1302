#!/usr/bin/env bash
# The rows of eegbench-local-v1's cells that leaderboard/rows.jsonl does not hold, and the
# committed scorecard. Run from a clean checkout (rows record the git revision); one thread.
#   bash leaderboard/scorecards/regenerate.sh
set -euo pipefail
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
RUNS=${EEGBENCH_RUNS_DIR:-runs}
SUITE="python -m eegbench +suite=eegbench-local-v1 trainer.num_threads=1"
# classical pipelines and EEGNet where the shipped rows lack them
$SUITE model=ts_lr \
    '+suite_cells=[meg_within_subject,visual_p300_within_run,n170_within_run,auditory_p300_within_run]'
for m in xdawn_ts_lr erp_lda eegnet; do
  $SUITE model=$m '+suite_cells=[meg_within_subject]'
done
# foundation models at their published sizes, random init, frozen encoder + linear probe
# (the eegmat cell's probe rows are in leaderboard/rows.jsonl); a model whose input contract
# refuses a dataset's channels leaves that cell empty (failure record in the store)
for m in cbramod labram eegpt biot; do
  $SUITE model=$m model.adaptation=linear_probe model.params.init=random \
      '+suite_cells=[ssvep_loso,visual_p300_within_run,n170_within_run,auditory_p300_within_run,meg_within_subject]' || true
done
python -m eegbench.leaderboard --results "$RUNS/eegbench-local-v1/results" \
    --export-rows leaderboard/scorecards/eegbench-local-v1.rows.jsonl
python -m eegbench.leaderboard --committed --suite eegbench-local-v1
