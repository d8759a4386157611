#!/usr/bin/env bash
# `make metrics FILE=path/to/log`: a per-metric summary of the EMF documents in a log (a `make run`
# or `make load` server log, a Lambda's log downloaded from CloudWatch Logs). FILE=- reads stdin.
set -euo pipefail
cd "$(dirname "$0")/.."
file="${1:-}"
if [ -z "$file" ]; then
  echo "usage: make metrics FILE=path/to/log (e.g. the server log of make run or make load)" >&2
  exit 2
fi
exec python3 scripts/metrics.py "$file"
