#!/usr/bin/env bash
# The collection's main job end to end, on a fresh machine: sets the machine up
# (tests/setup.sh), boots a lab VM that runs Docker in the default mode, hardens it with
# nsguard.docker.harden to rootless Docker (audit before and after), prints where the
# report is and its summary. Options go to tests/lab/main_job.py (--keep, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1
bash tests/setup.sh
exec .venv/bin/python tests/lab/main_job.py "$@"
