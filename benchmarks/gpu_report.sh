#!/usr/bin/env bash
# Measure eegbench's CUDA paths on a GPU node in one call, offline: install from the wheelhouse
# prepared by benchmarks/gpu_prepare.sh, run the CUDA tests on the copied real-data subset and
# time the fused preprocessing against MNE on the GPU, then print a short report.
#
# Usage (from the repository root, on the GPU node): bash benchmarks/gpu_report.sh
# Environment: PYTHON (the node's interpreter with torch, default python3), WHEELHOUSE
# (default wheelhouse-gpu), GPU_DATA (default .gpu_data), VENV (default /tmp/eegbench-gpu-venv,
# created with --system-site-packages so the node's torch/numpy/... are used; "none" installs
# into PYTHON's own environment), REPORT_DIR
# (where logs go; default $OUT when set, else gpu_report/), THREADS (CPU threads, default 1).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
WH=${WHEELHOUSE:-wheelhouse-gpu}
DATA=$(cd "${GPU_DATA:-.gpu_data}" && pwd) || { echo "no data folder ${GPU_DATA:-.gpu_data}:" \
  "run benchmarks/gpu_prepare.sh where the data are" >&2; exit 2; }
VENV=${VENV:-/tmp/eegbench-gpu-venv}
REPORT=${REPORT_DIR:-${OUT:-gpu_report}}
THREADS=${THREADS:-1}
mkdir -p "$REPORT"
export EEGBENCH_DATA_ROOT=$DATA EEGBENCH_CACHE_DIR=/tmp/eegbench-gpu-cache PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=$THREADS
status=0
{
echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || status=1
echo "== install (offline, from $WH)"
if [ "$VENV" = none ]; then
  VPY=$PY
else
  "$PY" -m venv --system-site-packages "$VENV"
  VPY="$VENV/bin/python"
fi
if ! PYTHON="$VPY" bash scripts/install_offline.sh "$WH"; then
  echo "strict install refused (see above): retrying with the node's own versions"
  PYTHON="$VPY" bash scripts/install_offline.sh "$WH" --use-target-versions || exit 1
fi
"$VPY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)"
echo "== CUDA tests (real data subset in $DATA)"
"$VPY" -m pytest -q -p no:cacheprovider -m cuda -rs tests/integration/test_cuda_paths.py \
  || status=1
"$VPY" -m pytest -q -p no:cacheprovider -rs tests/integration/test_preprocess_equivalence.py \
  -k "cuda and (physionet_eegmat or ssvep_exo_kalunga2016)" || status=1
for dtype in float32 float64; do
  echo "== fused preprocessing on CUDA vs MNE on the CPU, $dtype"
  "$VPY" benchmarks/preprocess_speed.py --device cuda --dtype "$dtype" --threads "$THREADS" \
    --cases physionet_eegmat,ssvep_exo_kalunga2016 --max-files 64 --repeats 3 || status=1
  echo "== the same on the CPU (ratio to compare), $dtype"
  "$VPY" benchmarks/preprocess_speed.py --device cpu --dtype "$dtype" --threads "$THREADS" \
    --cases physionet_eegmat,ssvep_exo_kalunga2016 --max-files 64 --repeats 1 || status=1
done
echo "== done (status $status); threads $THREADS; $(date -u +%FT%TZ)"
exit "$status"
} 2>&1 | tee "$REPORT/gpu_report.log"
exit "${PIPESTATUS[0]}"
