#!/usr/bin/env bash
# `make run`: DynamoDB Local persisting under .local/ddb-data, the table from template.yaml, a demo
# org, and the local API on port 3000 (PORT to change). Ctrl-C stops everything this started.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-tools.sh
cargo build --locked -p partner-devtools --bin local-server
DDB_LOG="$root/.local/dynamodb-local.log" source scripts/dynamodb-local.sh "$root/.local/ddb-data"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  kill "$DDB_PID" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
echo "DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB (pid $DDB_PID), data in .local/ddb-data"
export TABLE_NAME="${TABLE_NAME:-partner-programs-local}"
"$root/target/debug/local-server" --port "${PORT:-3000}" --seed-demo &
server_pid=$!
wait "$server_pid"
