#!/usr/bin/env bash
# Build a folder of wheels ("wheelhouse") from which eegbench installs with no network, e.g. on
# an air-gapped GPU node (install it there with scripts/install_offline.sh).
#
# Usage: bash scripts/wheelhouse.sh [-o DIR] [--python-version X.Y] [--platform TAG]...
#                                   [--exclude pkg,pkg,...] [--exclude-from FILE]
#                                   [--extras extra,extra,...]
#   -o DIR            output folder (default: wheelhouse)
#   --python-version  target interpreter, e.g. 3.12 (default: the one running this script)
#   --platform TAG    target platform tag, repeatable (default with --python-version:
#                     manylinux_2_28_x86_64; without it: this machine's platform). pip matches
#                     tags exactly, so manylinux_2_N_ARCH is widened here to every older
#                     manylinux tag (2_N ... 2_5, manylinux2014/2010/1) of that ARCH
#   --exclude LIST    packages the target already has, left out with everything only they
#                     need (e.g. torch,numpy,scipy,pandas,scikit-learn on a cluster GPU node)
#   --exclude-from FILE  more packages to leave out, one per line (`pip freeze` or
#                     `pip list --format=freeze` output of the target works; # comments)
#   --extras LIST     eegbench extras to include (e.g. launchers,bridges)
# Environment: PYTHON (interpreter running pip, default python3).
#
# How: (1) eegbench's own wheel (pip wheel, non-editable: ships conf/ and data_recipes/);
# (2) packages published only as source (e.g. antlr4-python3-runtime, needed by hydra-core)
# are built into wheels here with `pip wheel` (they must be pure Python: *-none-any);
# (3) the dependency tree is resolved for the target with `pip install --dry-run --report
# --only-binary=:all:` (metadata only, nothing large is downloaded) and the packages reachable
# from eegbench without passing through an excluded one are downloaded for the target with
# `pip download --only-binary=:all: --no-deps`; (4) braindecode is added without its
# dependencies (as scripts/install.sh installs it). wheelhouse.json records the target, the
# packages and the requirements the target must already satisfy.
set -euo pipefail
OUT=wheelhouse
PYVER=""
PLATFORMS=()
EXCLUDE=""
EXTRAS=""
BRAINDECODE="braindecode==1.8.1"  # the version scripts/install.sh installs
while [ $# -gt 0 ]; do
  case "$1" in
    -o|--output) OUT=$2; shift 2 ;;
    --python-version) PYVER=$2; shift 2 ;;
    --platform) PLATFORMS+=("$2"); shift 2 ;;
    --exclude) EXCLUDE="$EXCLUDE,$2"; shift 2 ;;
    --exclude-from)
      [ -f "$2" ] || { echo "Invalid value for the '--exclude-from' parameter: no file '$2'." >&2
                       exit 2; }
      EXCLUDE="$EXCLUDE,$(sed -e 's/#.*//' -e 's/[ =<>~!;@\[].*//' "$2" | grep -v '^$' \
                          | paste -sd, -)"; shift 2 ;;
    --extras) EXTRAS=$2; shift 2 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "Invalid value for the argument: allowed are -o, --python-version, --platform," \
            "--exclude, --exclude-from, --extras, -h, but got '$1'." >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
TARGET=()
if [ -n "$PYVER" ]; then
  [ ${#PLATFORMS[@]} -gt 0 ] || PLATFORMS=(manylinux_2_28_x86_64)
  TARGET+=(--python-version "$PYVER" --implementation cp)
fi
for p in "${PLATFORMS[@]}"; do
  TARGET+=(--platform "$p")
  if [[ "$p" =~ ^manylinux_2_([0-9]+)_(.+)$ ]]; then  # a glibc 2.N system runs older tags too
    for ((n = BASH_REMATCH[1] - 1; n >= 5; n--)); do
      TARGET+=(--platform "manylinux_2_${n}_${BASH_REMATCH[2]}")
    done
    for legacy in manylinux2014 manylinux2010 manylinux1; do
      TARGET+=(--platform "${legacy}_${BASH_REMATCH[2]}")
    done
  fi
done
PIP=("$PY" -m pip)
t0=$(date +%s)

echo "[1/4] eegbench wheel"
rm -f "$OUT"/eegbench-*.whl
"${PIP[@]}" wheel -q --no-deps -w "$OUT" "$ROOT"
EEG_WHL=$(ls "$OUT"/eegbench-*.whl)
ROOT_REQ="eegbench[${EXTRAS}] @ file://${EEG_WHL}"
[ -n "$EXTRAS" ] || ROOT_REQ="eegbench @ file://${EEG_WHL}"

echo "[2/4] source-only packages -> wheels (resolved for this interpreter)"
"${PIP[@]}" install -q --dry-run --ignore-installed --report "$WORK/host.json" \
  "$ROOT_REQ" "$BRAINDECODE" >/dev/null
"$PY" - "$WORK/host.json" > "$WORK/sdists.txt" <<'PYEOF'
import json, sys
for item in json.load(open(sys.argv[1]))["install"]:
    url = item["download_info"]["url"]
    if not url.endswith(".whl"):
        meta = item["metadata"]
        print(f"{meta['name']}=={meta['version']}")
PYEOF
if [ -s "$WORK/sdists.txt" ]; then
  "${PIP[@]}" wheel -q --no-deps -w "$WORK/built" -r "$WORK/sdists.txt"
  for whl in "$WORK"/built/*.whl; do
    case "$whl" in
      *-none-any.whl) cp "$whl" "$OUT/" ;;
      *) echo "$(basename "$whl") is not pure Python: it was built for this machine only and" \
              "may not install on the target; build it on a machine like the target." >&2
         cp "$whl" "$OUT/" ;;
    esac
  done
  echo "    built: $(tr '\n' ' ' < "$WORK/sdists.txt")"
fi

echo "[3/4] resolve for the target (${PYVER:-this interpreter} ${PLATFORMS[*]:-this platform})"
"${PIP[@]}" install -q --dry-run --ignore-installed --only-binary=:all: "${TARGET[@]}" \
  --find-links "$OUT" --target "$WORK/site" --report "$WORK/target.json" "$ROOT_REQ" \
  >/dev/null
"$PY" - "$WORK/target.json" "$EXCLUDE" "$PYVER" "$WORK/selected.txt" "$OUT/wheelhouse.json" \
  "$BRAINDECODE" <<'PYEOF'
"""Keep the packages reachable from eegbench without passing through an excluded one."""
import json, sys
from pip._vendor.packaging.requirements import Requirement
from pip._vendor.packaging.utils import canonicalize_name

report_path, exclude, pyver, selected_path, manifest_path, braindecode = sys.argv[1:7]
report = json.load(open(report_path))
excluded = {canonicalize_name(n) for n in exclude.split(",") if n.strip()}
env = dict(report["environment"])
if pyver:  # evaluate markers for the target interpreter
    env["python_version"] = pyver
    env["python_full_version"] = pyver + ".0"
items = {canonicalize_name(i["metadata"]["name"]): i for i in report["install"]}
root = next(n for n, i in items.items() if n == "eegbench")
keep, expected = {}, {}
stack = [(root, set(items[root].get("requested_extras") or []))]
seen = set()
while stack:
    name, extras = stack.pop()
    if (name, frozenset(extras)) in seen:
        continue
    seen.add((name, frozenset(extras)))
    meta = items[name]["metadata"]
    keep[name] = meta["version"]
    for text in meta.get("requires_dist") or []:
        req = Requirement(text)
        if req.marker and not any(req.marker.evaluate({**env, "extra": e})
                                  for e in (extras or {""})):
            continue
        dep = canonicalize_name(req.name)
        if dep in excluded:
            expected.setdefault(dep, set()).add(str(req.specifier) or "any")
            continue
        stack.append((dep, set(req.extras)))
lines = [f"{n}=={v}" for n, v in sorted(keep.items()) if n != "eegbench"]
open(selected_path, "w").write("\n".join(lines + [braindecode]) + "\n")
json.dump({
    "python_version": pyver or env["python_version"],
    "excluded": sorted(excluded),
    "target_must_provide": {n: sorted(s) for n, s in sorted(expected.items())},
    "eegbench_extras": sorted(items[root].get("requested_extras") or []),
    "no_deps": [braindecode],
    "packages": sorted(lines + [f"eegbench=={items[root]['metadata']['version']}",
                                braindecode]),
}, open(manifest_path, "w"), indent=1)
print(f"    {len(lines) + 2} packages; left to the target: "
      f"{', '.join(sorted(expected)) or 'nothing'}")
PYEOF

echo "[4/4] download wheels for the target"
"${PIP[@]}" download -q --no-deps --only-binary=:all: "${TARGET[@]}" --find-links "$OUT" \
  -d "$OUT" -r "$WORK/selected.txt"
echo "wheelhouse $OUT: $(ls "$OUT"/*.whl | wc -l) wheels, $(du -sh "$OUT" | cut -f1)," \
     "$(( $(date +%s) - t0 )) s"
