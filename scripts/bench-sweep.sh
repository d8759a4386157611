#!/usr/bin/env bash
# `make bench-sweep`: the tier-expiry sweep benchmark, release build, against a fresh in-memory
# DynamoDB Local (stopped by PID at the end). For tables of 10,000 and 100,000 linkages with 1,000
# due it prints items read per item changed, sweep time (median of the runs) and changes per second.
# Extra arguments go to `ppsweep bench`, e.g. `scripts/bench-sweep.sh --sizes 10000,100000 --reps 5`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-tools.sh
cargo build --locked --release -p partner-devtools --bin ppsweep
args=("$@")
set --   # a sourced script sees the positional arguments: in-memory DynamoDB Local takes none
source scripts/dynamodb-local.sh
trap 'kill "$DDB_PID" 2>/dev/null || true' EXIT
echo "DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB (pid $DDB_PID)"
export TABLE_NAME="${TABLE_NAME:-pp-bench}"
"${CARGO_TARGET_DIR:-$root/target}/release/ppsweep" bench "${args[@]}"
