#!/usr/bin/env bash
# Create .venv and install eegbench into it (CPU torch, braindecode without its torchaudio pin).
# Usage: bash scripts/install.sh [extra pip args, e.g. --no-editable]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# 1. torch first, pinned: the CPU build (a bare `torch` pulls a multi-GB CUDA build).
.venv/bin/python -m pip install -q "torch==2.13.0"
# 2. eegbench, its extras and braindecode's runtime requirements (listed in pyproject.toml).
.venv/bin/python -m pip install -q -e ".[dev,launchers,bridges,docs]" "$@"
# 3. braindecode last and without deps: it requires torchaudio, whose PyPI binaries do not load
#    against torch 2.13 (CUDA-only). eegbench imports braindecode through eegbench._compat, which
#    stubs torchaudio when it cannot be imported (only a few braindecode models use it).
#    Installed last, pip has no unmet requirement to report during the install; `pip check`
#    still lists "braindecode 1.8.1 requires torchaudio", which is expected.
.venv/bin/python -m pip install -q --no-deps "braindecode==1.8.1"
.venv/bin/python -c "import eegbench, torch; print('eegbench', eegbench.__version__, 'torch', torch.__version__)"
