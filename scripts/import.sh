#!/usr/bin/env bash
# `make import FILE=… PROGRAM=…`: a partner file through the import's and the worker's own code
# (docs/file-sync.md#locally), against DynamoDB Local (in memory) and moto (S3, SQS) that this
# script starts on free loopback ports and stops by PID. The demo org of `make run` is seeded and
# the customers the file names by identifier are registered if missing. The results file is
# printed and copied to .local/results/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
file="${1:-}"
program="${2:-}"
if [ -z "$file" ] || [ -z "$program" ]; then
  echo "usage: make import FILE=path/to/file.csv PROGRAM=<partner program name>" >&2
  echo "  e.g. make import FILE=tests/fixtures/partner-file-sample.csv PROGRAM=SkyMiles" >&2
  exit 2
fi
scripts/ensure-tools.sh
cargo build --locked -q -p partner-devtools --bin ppimport
source scripts/dynamodb-local.sh ""
ddb_pid="$DDB_PID"
MOTO_LOG="$root/.local/moto.log" source scripts/moto.sh
trap 'kill "$ddb_pid" "$MOTO_PID" 2>/dev/null || true' EXIT
echo "DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB (pid $ddb_pid), moto (S3, SQS) on $AWS_ENDPOINT_URL_S3 (pid $MOTO_PID)"
export TABLE_NAME="${TABLE_NAME:-partner-programs-local}" LOG_LEVEL="${LOG_LEVEL:-warn}"
"$root/target/debug/ppimport" run --file "$file" --program "$program" --register-customers ${IMPORT_ARGS:-}
