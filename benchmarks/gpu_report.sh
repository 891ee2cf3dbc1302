#!/usr/bin/env bash
# Measure eegbench on a GPU node in one call, offline, within a hard time budget: install from
# the wheelhouse prepared by benchmarks/gpu_prepare.sh, then, on the copied real data,
#   1. the CUDA tests (fused preprocessing on CUDA vs MNE, float32 and float64),
#   2. fused preprocessing on CUDA vs MNE on the CPU, speed and error, float32 and float64,
#   3. training throughput (resident loop) and GPU utilisation: EEGNet and CBraMod, fp32/bf16,
#   4. EEGNet on the 36 eegmat LOSO folds: fold after fold vs fold-parallel (same epochs),
#      then the full EEGNet recipe fold-parallel (scores),
#   5. in the minutes left, CBraMod's eegmat LOSO with the authors' 50 epochs (one JSON line
#      per finished fold; fine-tuned when EEGBENCH_CBRAMOD_CHECKPOINT names weights, else
#      from a random initialisation),
# and print a short table last. Each step has its own time limit inside BUDGET_S; a step that
# would not fit is skipped and says so. Details go to REPORT_DIR: gpu_report.log (this output),
# results.json (every figure), logs.tar.gz (each step's log), *_loso.jsonl (per-fold scores).
# Training steps run on benchmarks/windows_subset.py's subset (.gpu_data/eegmat_windows.npz):
# their scores are not comparable with rows computed on every window.
#
# Usage (from the repository root, on the GPU node): bash benchmarks/gpu_report.sh
# Environment: PYTHON (the node's interpreter with torch, default python3), WHEELHOUSE
# (default wheelhouse-gpu), GPU_DATA (default .gpu_data), VENV (default /tmp/eegbench-gpu-venv,
# created with --system-site-packages so the node's torch/numpy/... are used; "none" installs
# into PYTHON's own environment), INSTALL_TARGET (install into this folder with pip --target
# and put it on PYTHONPATH instead; leaves every environment untouched), INSTALL=skip (use
# what PYTHON already imports), REPORT_DIR (default $OUT when set, else gpu_report/), THREADS
# (CPU threads, default 1), BUDGET_S (default 540), DEVICE (default cuda), QUICK=1 (tiny
# workloads: a rehearsal of the whole flow on a CPU).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WH=${WHEELHOUSE:-wheelhouse-gpu}
DATA=$(cd "${GPU_DATA:-.gpu_data}" && pwd) || { echo "no data folder ${GPU_DATA:-.gpu_data}:" \
  "run benchmarks/gpu_prepare.sh where the data are" >&2; exit 2; }
VENV=${VENV:-/tmp/eegbench-gpu-venv}
REPORT=${REPORT_DIR:-${OUT:-gpu_report}}
THREADS=${THREADS:-1}
BUDGET_S=${BUDGET_S:-540}
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-0}
RESERVE=20  # seconds kept for the table and the archive
T0=$(date +%s)
mkdir -p "$REPORT/logs" "$REPORT/results"
REPORT=$(cd "$REPORT" && pwd)
export EEGBENCH_DATA_ROOT=$DATA EEGBENCH_CACHE_DIR=/tmp/eegbench-gpu-cache PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=$THREADS
WINDOWS=$DATA/eegmat_windows.npz
if [ "$QUICK" = 1 ]; then  # rehearsal sizes; a CPU needs longer step limits
  PER_CLASS=2 FOLDS=3 EPOCHS=1 STEPS=3 WARMUP=1 CB_BATCH=4 CB_EPOCHS=1 REPEATS=1 MAXF=2 SCALE=4
else
  PER_CLASS=0 FOLDS=0 EPOCHS=3 STEPS=200 WARMUP=20 CB_BATCH=64 CB_EPOCHS="" REPEATS=3 MAXF=64
  SCALE=1
fi
left() { echo $(( BUDGET_S - ($(date +%s) - T0) )); }
# step NAME MAX_SECONDS COMMAND...: run with a time limit inside the budget, log to logs/NAME.log
step() {
  local name=$1 max=$2 start rc status avail
  shift 2
  avail=$(( $(left) - RESERVE ))
  if [ "$avail" -lt 15 ]; then
    echo "== $name: skipped (budget of $BUDGET_S s used up)"
    printf '%s\tskipped\t0\n' "$name" >> "$REPORT/steps.tsv"
    return 0
  fi
  max=$(( max * SCALE ))
  [ "$max" -gt "$avail" ] && max=$avail
  echo "== $name (at most $max s; $(left) s of $BUDGET_S left)"
  start=$(date +%s)
  timeout --kill-after=10 "$max" "$@" > "$REPORT/logs/$name.log" 2>&1
  rc=$?
  case $rc in 0) status=ok ;; 124|137) status=timeout ;; *) status="failed($rc)" ;; esac
  printf '%s\t%s\t%s\n' "$name" "$status" "$(( $(date +%s) - start ))" >> "$REPORT/steps.tsv"
  grep -v -e Warning -e 'warnings.warn' -e '^ *montage' "$REPORT/logs/$name.log" | tail -n 6
  echo "   -> $status in $(( $(date +%s) - start )) s"
}
: > "$REPORT/steps.tsv"
{
echo "== device ($(date -u +%FT%TZ))"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader \
  || echo "nvidia-smi not available"
echo "== install (offline, from $WH)"
VPY=$PY
if [ "${INSTALL:-}" = skip ]; then
  echo "skipped (INSTALL=skip)"
elif [ -n "${INSTALL_TARGET:-}" ]; then
  PYTHON="$PY" bash scripts/install_offline.sh "$WH" --use-target-versions \
    --target "$INSTALL_TARGET" --upgrade || exit 1
  export PYTHONPATH="$INSTALL_TARGET${PYTHONPATH:+:$PYTHONPATH}"
else
  if [ "$VENV" != none ]; then
    "$PY" -m venv --system-site-packages "$VENV"
    VPY="$VENV/bin/python"
  fi
  if ! PYTHON="$VPY" bash scripts/install_offline.sh "$WH"; then
    echo "strict install refused (see above): retrying with the node's own versions"
    PYTHON="$VPY" bash scripts/install_offline.sh "$WH" --use-target-versions || exit 1
  fi
fi
(cd / && "$VPY" -c "import eegbench, torch; print('eegbench from', eegbench.__file__); print(
'torch', torch.__version__, 'cuda', torch.version.cuda, 'device', torch.cuda.get_device_name(0)
if torch.cuda.is_available() else None)") || exit 1
echo "   install done at $(( $(date +%s) - T0 )) s"
R=$REPORT/results
step cuda_tests 120 "$VPY" -m pytest -q -p no:cacheprovider -rs \
  tests/integration/test_cuda_paths.py tests/integration/test_preprocess_equivalence.py \
  -k "cuda and (physionet_eegmat or ssvep_exo_kalunga2016)"
for dtype in float32 float64; do
  step "preprocess_$dtype" 60 "$VPY" benchmarks/preprocess_speed.py --device "$DEVICE" \
    --dtype "$dtype" --threads "$THREADS" --cases physionet_eegmat,ssvep_exo_kalunga2016 \
    --max-files "$MAXF" --repeats "$REPEATS" --json "$R/preprocess_$dtype.json"
done
for precision in fp32 bf16; do
  step "throughput_eegnet_$precision" 45 "$VPY" benchmarks/training_throughput.py \
    --model eegnet --device "$DEVICE" --windows "$WINDOWS" --steps "$STEPS" \
    --warmup "$WARMUP" --precision "$precision" --threads "$THREADS" \
    --json "$R/throughput_eegnet_$precision.json"
  step "throughput_cbramod_$precision" 75 "$VPY" benchmarks/training_throughput.py \
    --model cbramod --device "$DEVICE" --windows "$WINDOWS" --steps "$STEPS" \
    --warmup "$WARMUP" --batch-size "$CB_BATCH" --precision "$precision" \
    --threads "$THREADS" --json "$R/throughput_cbramod_$precision.json"
done
step fold_parallel_speed 120 "$VPY" benchmarks/fold_parallel_speed.py --windows "$WINDOWS" \
  --per-class "$PER_CLASS" --folds "$FOLDS" --epochs "$EPOCHS" --device "$DEVICE" \
  --threads "$THREADS" --modes sequential,fast --json "$R/fold_parallel_speed.json"
step eegnet_loso 90 "$VPY" benchmarks/subset_loso.py --model eegnet --windows "$WINDOWS" \
  --per-class "$PER_CLASS" --folds "$FOLDS" ${CB_EPOCHS:+--epochs $CB_EPOCHS} \
  --fold-parallel true --device "$DEVICE" --threads "$THREADS" --out "$REPORT/eegnet_loso.jsonl"
CKPT=${EEGBENCH_CBRAMOD_CHECKPOINT:-}
cb_budget=$(( $(left) - RESERVE - 30 ))
step cbramod_loso "$(( cb_budget + 25 ))" "$VPY" benchmarks/subset_loso.py --model cbramod \
  --windows "$WINDOWS" --per-class "$PER_CLASS" --folds "$FOLDS" \
  ${CB_EPOCHS:+--epochs $CB_EPOCHS} --device "$DEVICE" --precision bf16 \
  --threads "$THREADS" --budget-s "$cb_budget" ${CKPT:+--checkpoint "$CKPT"} \
  --out "$REPORT/cbramod_loso.jsonl"
echo "== summary ($(( $(date +%s) - T0 )) s of $BUDGET_S s)"
"$VPY" benchmarks/gpu_summary.py "$REPORT"
} 2>&1 | tee "$REPORT/gpu_report.log"
status=${PIPESTATUS[0]}
tar -czf "$REPORT/logs.tar.gz" -C "$REPORT" logs steps.tsv results 2>/dev/null \
  && rm -rf "$REPORT/logs" "$REPORT/results" "$REPORT/steps.tsv"
exit "$status"
