#!/usr/bin/env bash
# `make sweep` / `make seed-sweep`: the tier-expiry sweep's local tool (ppsweep) against DynamoDB
# Local and the `make run` table. Uses AWS_ENDPOINT_URL_DYNAMODB when set; else the DynamoDB Local
# that `make run` started on .local/ddb-data, if it is running; else starts one on that data for
# the duration of the command (stopped by PID).
# Usage: scripts/sweep-local.sh run [--max-items N] [--at 2031-01-01T00:00:00Z]
#        scripts/sweep-local.sh seed --linkages N --due M [--no-profiles]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-tools.sh
cargo build --locked --quiet -p partner-devtools --bin ppsweep
data="$root/.local/ddb-data"
if [ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]; then
  port=$(ps -eo args | grep -F -- "-dbPath $data" | grep -v grep | sed -n 's/.*-port \([0-9][0-9]*\).*/\1/p' | head -n1 || true)
  if [ -n "$port" ]; then
    export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
    export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
    export AWS_REGION="${AWS_REGION:-us-east-1}"
    echo "using the DynamoDB Local of make run ($AWS_ENDPOINT_URL_DYNAMODB)" >&2
  else
    DDB_LOG="$root/.local/dynamodb-local.log" source scripts/dynamodb-local.sh "$data"
    trap 'kill "$DDB_PID" 2>/dev/null || true' EXIT
    echo "started DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB (pid $DDB_PID), data in .local/ddb-data" >&2
  fi
fi
export TABLE_NAME="${TABLE_NAME:-partner-programs-local}"
"${CARGO_TARGET_DIR:-$root/target}/debug/ppsweep" "$@"
