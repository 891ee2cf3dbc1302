#!/usr/bin/env bash
# Prepare, on a machine with internet access, what benchmarks/gpu_report.sh needs on an
# air-gapped GPU node: a wheelhouse for the node's Python (wheelhouse-gpu/) and a small real
# data subset (.gpu_data/), both git-ignored. Prints their sizes and the total with the tracked
# files (for jobs that copy the working tree with a size limit, e.g. 64 MiB).
#
# Usage: bash benchmarks/gpu_prepare.sh [--python-version 3.12] [--eegmat-files 8]
#          [--ssvep-subjects 2] [--data-root DIR] [--exclude LIST] [--exclude-from FILE]
# Defaults leave out what a PyTorch GPU image usually has: torch, numpy, scipy, pandas,
# scikit-learn, matplotlib, transformers (check the node's `pip list` and adjust).
# Environment: PYTHON (runs pip, default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=3.12
EEGMAT_FILES=8
SSVEP_SUBJECTS=2
DATA_ROOT=${EEGBENCH_DATA_ROOT:-../shared/data}
EXCLUDE=torch,numpy,scipy,pandas,scikit-learn,matplotlib,transformers
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --python-version) PYVER=$2; shift 2 ;;
    --eegmat-files) EEGMAT_FILES=$2; shift 2 ;;
    --ssvep-subjects) SSVEP_SUBJECTS=$2; shift 2 ;;
    --data-root) DATA_ROOT=$2; shift 2 ;;
    --exclude) EXCLUDE=$2; shift 2 ;;
    --exclude-from) EXTRA+=(--exclude-from "$2"); shift 2 ;;
    *) echo "Invalid value for the argument: allowed are --python-version, --eegmat-files," \
            "--ssvep-subjects, --data-root, --exclude, --exclude-from, but got '$1'." >&2
       exit 2 ;;
  esac
done
rm -rf wheelhouse-gpu .gpu_data
bash scripts/wheelhouse.sh -o wheelhouse-gpu --python-version "$PYVER" --exclude "$EXCLUDE" \
  "${EXTRA[@]}"
# eegmat: the first EEGMAT_FILES recordings (sorted) plus the folder's manifest files
mkdir -p .gpu_data/physionet_eegmat .gpu_data/ssvep_exo_kalunga2016
src="$DATA_ROOT/physionet_eegmat"
find "$src" -maxdepth 1 -type f ! -name '*.edf' -exec cp {} .gpu_data/physionet_eegmat/ \;
find "$src" -maxdepth 1 -name '*.edf' | sort | head -n "$EEGMAT_FILES" \
  | xargs -I{} cp {} .gpu_data/physionet_eegmat/
# SSVEP: the first SSVEP_SUBJECTS subject folders
src="$DATA_ROOT/ssvep_exo_kalunga2016"
find "$src" -maxdepth 1 -type f -exec cp {} .gpu_data/ssvep_exo_kalunga2016/ \;
find "$src" -mindepth 1 -maxdepth 1 -type d | sort | head -n "$SSVEP_SUBJECTS" \
  | xargs -I{} cp -r {} .gpu_data/ssvep_exo_kalunga2016/
mib() { du -sb "$@" | awk '{s += $1} END {printf "%.1f", s / 1048576}'; }
tracked=$(git ls-files -z | du -cb --files0-from=- | tail -1 | awk '{printf "%.1f", $1 / 1048576}')
echo "wheelhouse-gpu: $(mib wheelhouse-gpu) MiB; .gpu_data: $(mib .gpu_data) MiB" \
     "($(find .gpu_data -name '*.edf' | wc -l) eegmat files," \
     "$(find .gpu_data/ssvep_exo_kalunga2016 -mindepth 1 -maxdepth 1 -type d | wc -l) SSVEP" \
     "subjects); tracked files: $tracked MiB"
echo "total: $(echo "$(mib wheelhouse-gpu .gpu_data) + $tracked" | bc) MiB"
echo "On the GPU node, from the repository root: bash benchmarks/gpu_report.sh"
