#!/usr/bin/env bash
# make burst: parallel batches against the local server and a fresh in-memory DynamoDB Local
# (started here on a free port, stopped by its PID), for each storage admission bound; prints
# items by code, 503s, wall time against DynamoDB Local's own time, counter mismatches and a single
# link's latency as a table. Not a test. ARGS are passed on, e.g. ARGS="--bounds 16,32 --big-batches 20".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-tools.sh
cargo build --release --locked -p partner-bench --bin partner-bench
source scripts/dynamodb-local.sh ""
trap 'kill "$DDB_PID" 2>/dev/null || true' EXIT
target/release/partner-bench burst "$@"
