#!/usr/bin/env bash
# Install eegbench with no network from a folder built by scripts/wheelhouse.sh.
#
# Usage: bash scripts/install_offline.sh WHEELHOUSE [--use-target-versions]
#                                        [pip install options, e.g. --user or --target DIR]
# Environment: PYTHON (the interpreter to install into, default python3; e.g. a venv's python
# that already has torch, numpy, scipy, pandas and scikit-learn).
#
# Only the wheelhouse is read (`pip --isolated install --no-index --find-links`): pip's
# configuration files and PIP_* variables are ignored, so nothing is fetched from anywhere.
# The packages the wheelhouse was built without (wheelhouse.json "target_must_provide") are
# checked first; a missing or mismatched one is reported before anything is installed.
# --use-target-versions: keep the target's versions even where they differ from eegbench's pins
# (e.g. a node's torch 2.11 while eegbench pins 2.13): mismatches are printed as warnings and
# every wheel of the wheelhouse is installed with --no-deps (the wheelhouse is already the
# resolved set). Results then run on versions eegbench was not tested with: the result rows
# record the versions (row "versions").
set -euo pipefail
if [ $# -lt 1 ] || [ ! -f "$1/wheelhouse.json" ]; then
  echo "Invalid value for the 'WHEELHOUSE' argument: expected a folder built by" \
       "scripts/wheelhouse.sh (with wheelhouse.json), but got '${1:-}'." >&2
  exit 2
fi
WH=$(cd "$1" && pwd)
shift
LENIENT=0
if [ "${1:-}" = "--use-target-versions" ]; then LENIENT=1; shift; fi
PY=${PYTHON:-python3}
t0=$(date +%s)
"$PY" - "$WH/wheelhouse.json" "$LENIENT" <<'PYEOF'
"""Check that the target provides what the wheelhouse leaves out, and the Python version."""
import json, sys
from importlib.metadata import PackageNotFoundError, version
from pip._vendor.packaging.specifiers import SpecifierSet

manifest, lenient = json.load(open(sys.argv[1])), sys.argv[2] == "1"
here = "{}.{}".format(*sys.version_info[:2])
if manifest["python_version"] != here:
    sys.exit(f"Invalid interpreter: the wheelhouse was built for Python "
             f"{manifest['python_version']}, but {sys.executable} is Python {here}.")
problems, mismatched = [], []
for name, specs in manifest["target_must_provide"].items():
    try:
        found = version(name)
    except PackageNotFoundError:
        problems.append(f"{name} ({', '.join(specs)}) is not installed")
        continue
    wanted = SpecifierSet(",".join(s for s in specs if s != "any"))
    if not wanted.contains(found, prereleases=True):
        text = f"{name} {found} is installed, but {', '.join(specs)} is required"
        (mismatched if lenient else problems).append(text)
for text in mismatched:
    print(f"WARNING (--use-target-versions): {text}; keeping the installed one.")
if problems:
    sys.exit("The wheelhouse leaves these packages to the target, which does not provide "
             "them:\n  " + "\n  ".join(problems))
PYEOF
NO_DEPS=$("$PY" -c "import json,sys; print(' '.join(json.load(open(sys.argv[1]))['no_deps']))" \
  "$WH/wheelhouse.json")
EXTRAS=$("$PY" -c "import json,sys; print(','.join(json.load(open(sys.argv[1]))[
'eegbench_extras']))" "$WH/wheelhouse.json")
PIP=("$PY" -m pip --isolated install --no-index --find-links "$WH")
if [ "$LENIENT" = 1 ]; then
  "${PIP[@]}" -q --no-deps "$WH"/*.whl "$@"
else
  "${PIP[@]}" -q "eegbench${EXTRAS:+[$EXTRAS]}" "$@"
  # braindecode last, without its dependencies (its torchaudio pin; see scripts/install.sh)
  "${PIP[@]}" -q --no-deps $NO_DEPS "$@"
fi
case " $* " in
  *" --target"*) echo "installed into a --target folder: put it on PYTHONPATH to import" ;;
  *) (cd / && "$PY" -c "import eegbench, torch; print('eegbench', eegbench.__version__, 'torch',
torch.__version__, 'cuda', torch.cuda.is_available())") ;;
esac
echo "installed offline from $WH in $(( $(date +%s) - t0 )) s"
