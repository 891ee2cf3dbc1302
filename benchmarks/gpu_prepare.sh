#!/usr/bin/env bash
# Prepare, on a machine with internet access and the recordings, what benchmarks/gpu_report.sh
# needs on an air-gapped GPU node that receives the working tree under a size limit:
#   wheelhouse-gpu/   wheels for what the node's Python lacks (scripts/wheelhouse.sh)
#   .gpu_data/        real data: a few eegmat EDFs and SSVEP runs (CUDA preprocessing tests
#                     and speed) and a class-balanced subset of the standardized eegmat
#                     windows of every subject (benchmarks/windows_subset.py: training
#                     benchmarks, 36-fold LOSO)
# Both are git-ignored. Prints each size and the total with the tracked files, and fails
# (exit 3) if the total exceeds --limit-mib.
#
# Usage: bash benchmarks/gpu_prepare.sh [--python-version 3.12] [--eegmat-files 4]
#          [--ssvep-subjects 1] [--windows-per-class 6] [--data-root DIR] [--exclude LIST]
#          [--exclude-from FILE] [--limit-mib 64] [--no-wheels]
# Defaults leave out the packages listed in benchmarks/gpu_image_packages.txt (what a PyTorch
# CUDA image usually has: torch, numpy, scipy, pandas, scikit-learn, matplotlib, ...); pass
# the node's own `pip list --format=freeze` with --exclude-from where it differs.
# --no-wheels keeps an existing wheelhouse-gpu/ (data only).
# Environment: PYTHON (runs pip and the subset export, default python3), EEGBENCH_CACHE_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
PYVER=3.12
EEGMAT_FILES=4
SSVEP_SUBJECTS=1
PER_CLASS=6
LIMIT_MIB=64
WHEELS=1
DATA_ROOT=${EEGBENCH_DATA_ROOT:-../shared/data}
EXCLUDE=torch,numpy,scipy,pandas,scikit-learn,matplotlib
EXTRA=()
[ -f benchmarks/gpu_image_packages.txt ] && EXTRA+=(--exclude-from benchmarks/gpu_image_packages.txt)
while [ $# -gt 0 ]; do
  case "$1" in
    --python-version) PYVER=$2; shift 2 ;;
    --eegmat-files) EEGMAT_FILES=$2; shift 2 ;;
    --ssvep-subjects) SSVEP_SUBJECTS=$2; shift 2 ;;
    --windows-per-class) PER_CLASS=$2; shift 2 ;;
    --data-root) DATA_ROOT=$2; shift 2 ;;
    --exclude) EXCLUDE=$2; shift 2 ;;
    --exclude-from) EXTRA=(--exclude-from "$2"); shift 2 ;;
    --limit-mib) LIMIT_MIB=$2; shift 2 ;;
    --no-wheels) WHEELS=0; shift ;;
    *) echo "Invalid value for the argument: allowed are --python-version, --eegmat-files," \
            "--ssvep-subjects, --windows-per-class, --data-root, --exclude, --exclude-from," \
            "--limit-mib, --no-wheels, but got '$1'." >&2
       exit 2 ;;
  esac
done
[ -d "$DATA_ROOT/physionet_eegmat" ] || { echo "Invalid value for the '--data-root'" \
  "parameter: no physionet_eegmat folder in '$DATA_ROOT'." >&2; exit 2; }
if [ "$WHEELS" = 1 ]; then
  rm -rf wheelhouse-gpu
  PYTHON="$PY" bash scripts/wheelhouse.sh -o wheelhouse-gpu --python-version "$PYVER" \
    --exclude "$EXCLUDE" "${EXTRA[@]}"
fi
rm -rf .gpu_data
mkdir -p .gpu_data/physionet_eegmat .gpu_data/ssvep_exo_kalunga2016
# eegmat: the first EEGMAT_FILES recordings (sorted) plus the folder's manifest files
src="$DATA_ROOT/physionet_eegmat"
find "$src" -maxdepth 1 -type f ! -name '*.edf' -exec cp {} .gpu_data/physionet_eegmat/ \;
find "$src" -maxdepth 1 -name '*.edf' | sort | head -n "$EEGMAT_FILES" \
  | xargs -I{} cp {} .gpu_data/physionet_eegmat/
# SSVEP: the first SSVEP_SUBJECTS subject folders
src="$DATA_ROOT/ssvep_exo_kalunga2016"
find "$src" -maxdepth 1 -type f -exec cp {} .gpu_data/ssvep_exo_kalunga2016/ \;
find "$src" -mindepth 1 -maxdepth 1 -type d | sort | head -n "$SSVEP_SUBJECTS" \
  | xargs -I{} cp -r {} .gpu_data/ssvep_exo_kalunga2016/
# every subject's first PER_CLASS windows of each class, standardized as the cache has them
EEGBENCH_DATA_ROOT="$DATA_ROOT" "$PY" benchmarks/windows_subset.py \
  .gpu_data/eegmat_windows.npz --per-class "$PER_CLASS" --data-root "$DATA_ROOT"
mib() { du -sb "$@" | awk '{s += $1} END {printf "%.1f", s / 1048576}'; }
tracked=$(git ls-files -z | du -cb --files0-from=- | tail -1 | awk '{printf "%.1f", $1 / 1048576}')
untracked=$(git ls-files -z --others --exclude-standard | du -cb --files0-from=- 2>/dev/null \
  | tail -1 | awk '{printf "%.1f", $1 / 1048576}')
total=$(echo "$(mib wheelhouse-gpu .gpu_data) + $tracked + ${untracked:-0}" | bc)
echo "wheelhouse-gpu: $(mib wheelhouse-gpu) MiB ($(ls wheelhouse-gpu/*.whl | wc -l) wheels);" \
     ".gpu_data: $(mib .gpu_data) MiB ($(find .gpu_data -name '*.edf' | wc -l) eegmat files," \
     "$(find .gpu_data/ssvep_exo_kalunga2016 -mindepth 1 -maxdepth 1 -type d | wc -l) SSVEP" \
     "subjects, windows subset $(mib .gpu_data/eegmat_windows.npz) MiB);" \
     "tracked files: $tracked MiB; untracked, not ignored: ${untracked:-0} MiB"
echo "total to send: $total MiB (limit $LIMIT_MIB MiB)"
if [ "$(echo "$total > $LIMIT_MIB" | bc)" = 1 ]; then
  echo "Too large: $total MiB > $LIMIT_MIB MiB; lower --windows-per-class, --eegmat-files or" \
       "--ssvep-subjects." >&2
  exit 3
fi
echo "On the GPU node, from the repository root (with wheelhouse-gpu/ and .gpu_data/ copied" \
     "along): bash benchmarks/gpu_report.sh"
