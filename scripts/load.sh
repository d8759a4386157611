#!/usr/bin/env bash
# make load / make burst: figures against the local server and a fresh in-memory DynamoDB Local
# (started here on a free port, stopped by its PID); not tests.
#   scripts/load.sh [ARGS]        a fixed mix at fixed concurrency for a fixed time: throughput,
#                                 p50/p99 per operation, errors, 2010 count, peak RSS
#   scripts/load.sh burst [ARGS]  parallel batches of 50 per storage admission bound: items by
#                                 code, 503s, wall time against DynamoDB Local's own, mismatches
# ARGS are passed on, e.g. "--seconds 60 --concurrency 32" or "burst --bounds 16,32".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mode=load
if [ "${1:-}" = burst ]; then
  mode=burst
  shift
fi
scripts/ensure-tools.sh
cargo build --release --locked -p partner-bench --bin partner-bench
source scripts/dynamodb-local.sh ""
trap 'kill "$DDB_PID" 2>/dev/null || true' EXIT
target/release/partner-bench "$mode" "$@"
