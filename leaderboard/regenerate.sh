#!/usr/bin/env bash
# Runs steps of the experiment plan (leaderboard/plan.yaml); `--list` names them, `--dry-run`
# prints the commands. Same as: python -m eegbench.leaderboard plan [STEP...] [options]
cd "$(dirname "$0")/.." || exit 1
exec "${PYTHON:-python}" -m eegbench.leaderboard plan "$@"
