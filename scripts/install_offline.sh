#!/usr/bin/env bash
# Install eegbench with no network from a folder built by scripts/wheelhouse.sh.
#
# Usage: bash scripts/install_offline.sh WHEELHOUSE [pip install options, e.g. --user]
# Environment: PYTHON (the interpreter to install into, default python3; e.g. a venv's python
# that already has torch, numpy, scipy, pandas and scikit-learn).
#
# Only the wheelhouse is read (`pip --isolated install --no-index --find-links`): pip's
# configuration files and PIP_* variables are ignored, so nothing is fetched from anywhere.
# The packages the wheelhouse was built without (wheelhouse.json "target_must_provide") are
# checked first; a missing or mismatched one is reported before anything is installed.
set -euo pipefail
if [ $# -lt 1 ] || [ ! -f "$1/wheelhouse.json" ]; then
  echo "Invalid value for the 'WHEELHOUSE' argument: expected a folder built by" \
       "scripts/wheelhouse.sh (with wheelhouse.json), but got '${1:-}'." >&2
  exit 2
fi
WH=$(cd "$1" && pwd)
shift
PY=${PYTHON:-python3}
t0=$(date +%s)
"$PY" - "$WH/wheelhouse.json" <<'PYEOF'
"""Check that the target provides what the wheelhouse leaves out, and the Python version."""
import json, sys
from importlib.metadata import PackageNotFoundError, version
from pip._vendor.packaging.specifiers import SpecifierSet

manifest = json.load(open(sys.argv[1]))
here = "{}.{}".format(*sys.version_info[:2])
if manifest["python_version"] != here:
    sys.exit(f"Invalid interpreter: the wheelhouse was built for Python "
             f"{manifest['python_version']}, but {sys.executable} is Python {here}.")
problems = []
for name, specs in manifest["target_must_provide"].items():
    try:
        found = version(name)
    except PackageNotFoundError:
        problems.append(f"{name} ({', '.join(specs)}) is not installed")
        continue
    wanted = SpecifierSet(",".join(s for s in specs if s != "any"))
    if not wanted.contains(found, prereleases=True):
        problems.append(f"{name} {found} is installed, but {', '.join(specs)} is required")
if problems:
    sys.exit("The wheelhouse leaves these packages to the target, which does not provide "
             "them:\n  " + "\n  ".join(problems))
PYEOF
NO_DEPS=$("$PY" -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))['no_deps']))" \
  "$WH/wheelhouse.json")
EXTRAS=$("$PY" -c "import json,sys; print(','.join(json.load(open(sys.argv[1]))['eegbench_extras']))" \
  "$WH/wheelhouse.json")
PIP=("$PY" -m pip --isolated install --no-index --find-links "$WH")
# braindecode without its dependencies (its torchaudio pin; see scripts/install.sh)
"${PIP[@]}" -q --no-deps $NO_DEPS "$@"
if [ -n "$EXTRAS" ]; then "${PIP[@]}" -q "eegbench[$EXTRAS]" "$@"; else "${PIP[@]}" -q eegbench "$@"; fi
(cd / && "$PY" -c "import eegbench, torch; print('eegbench', eegbench.__version__, 'torch', \
torch.__version__, 'cuda', torch.cuda.is_available())")
echo "installed offline from $WH in $(( $(date +%s) - t0 )) s"
