#!/usr/bin/env bash
# The main job: set up (idempotent), then run the end-to-end demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/kwsdk demo "$@"
