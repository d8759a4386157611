#!/usr/bin/env bash
# `make bench-import`: partner files of 10,000 and 100,000 rows (one UPGRADE per seeded linkage)
# through the import and a worker process, release build, against a fresh in-memory DynamoDB Local
# and moto started here (stopped by PID). Prints rows/s against DynamoDB Local's own rate for the
# same transactions (the floor) and the worker's peak RSS. Extra arguments go to `ppimport bench`,
# e.g. `scripts/bench-import.sh --sizes 1000,10000`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-tools.sh
cargo build --locked --release -p partner-devtools --bin ppimport
args=("$@")
set --   # a sourced script sees the positional arguments: in-memory DynamoDB Local takes none
source scripts/dynamodb-local.sh
ddb_pid="$DDB_PID"
source scripts/moto.sh
trap 'kill "$ddb_pid" "$MOTO_PID" 2>/dev/null || true' EXIT
echo "DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB (pid $ddb_pid), moto on $AWS_ENDPOINT_URL_S3 (pid $MOTO_PID)"
export TABLE_NAME="${TABLE_NAME:-pp-bench-import}" LOG_LEVEL="${LOG_LEVEL:-warn}"
mkdir -p bench/out
"${CARGO_TARGET_DIR:-$root/target}/release/ppimport" bench --json bench/out/import.json "${args[@]}"
