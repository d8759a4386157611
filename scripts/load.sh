#!/usr/bin/env bash
# make load: a fixed mix of operations at fixed concurrency for a fixed time against the local
# server and a fresh in-memory DynamoDB Local (started here on a free port, stopped by its PID);
# prints throughput, p50/p99 per operation, errors, 2010 count and peak RSS as a table.
# Not a test. ARGS are passed on, e.g. ARGS="--seconds 60 --concurrency 32".
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-tools.sh
cargo build --release --locked -p partner-bench --bin partner-bench
source scripts/dynamodb-local.sh ""
trap 'kill "$DDB_PID" 2>/dev/null || true' EXIT
target/release/partner-bench load "$@"
