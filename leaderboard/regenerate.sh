#!/usr/bin/env bash
# Regenerate the committed eegmat leaderboard (leaderboard/eegmat_loso.* and eegmat_fewshot.*)
# from the real recordings, on CPU. CPU-cheap settings: trainer=fast (3 epochs, patience 2),
# one thread, 2 seeds for leave-one-subject-out, 1 seed x 3 draws for few-shot.
# Finished folds are skipped on a re-run (results store in runs/leaderboard/results).
# Usage: bash leaderboard/regenerate.sh [steps]   steps: any of loso fewshot probe tables
#        (default: all, in that order). PYTHON=/path/to/python, EEGBENCH_DATA_ROOT=... override.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=1 EEGBENCH_DATA_ROOT=${EEGBENCH_DATA_ROOT:-../shared/data}
RUNS=runs/leaderboard
COMMON=(trainer=fast trainer.num_threads=1 paths.runs_dir=$RUNS)
STEPS=${*:-loso fewshot probe tables}

for step in $STEPS; do
  case $step in
    loso)  # leave-one-subject-out: ts_lr and eegnet (Hydra multirun, conf/exp/loso.yaml)
      $PY -m eegbench +exp=loso "${COMMON[@]}" 'seeds=[0,1]' ;;
    fewshot)  # k = 1, 5, 10 per class, 3 draws: cross-subject then calibrate, and from scratch
      $PY -m eegbench +exp=fewshot "${COMMON[@]}" 'seeds=[0]'
      $PY -m eegbench +exp=fewshot "${COMMON[@]}" 'seeds=[0]' protocol.mode=from_scratch ;;
    probe)  # layer-wise linear probes of each fold's EEGNet (same config hash as `loso`)
      $PY -m eegbench +exp=loso model=eegnet "${COMMON[@]}" 'seeds=[0]' \
          +protocol.layer_probe=true ;;
    tables)  # tables, statistics, HTML and plots
      $PY -m eegbench.leaderboard --results $RUNS/results --out leaderboard \
          --name eegmat_loso --protocol loso
      $PY -m eegbench.leaderboard --results $RUNS/results --out leaderboard \
          --name eegmat_fewshot --protocol fewshot loso ;;
    *) echo "unknown step $step (allowed: loso fewshot probe tables)" >&2; exit 2 ;;
  esac
done
