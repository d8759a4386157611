#!/usr/bin/env bash
# Starts DynamoDB Local on a free loopback port and waits until it answers.
# Usage: source scripts/dynamodb-local.sh [DB_PATH]   (in-memory without DB_PATH)
# Sets DDB_PID and exports AWS_ENDPOINT_URL_DYNAMODB plus dummy credentials and a region.
# The caller stops it by PID: kill "$DDB_PID".
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jar=$(ls "$root"/.local/dynamodb-local/package/lib/dynamodb_local_*/DynamoDBLocal.jar 2>/dev/null | head -n1)
if [ -z "$jar" ]; then
  echo "DynamoDB Local is missing: run scripts/ensure-tools.sh (make test / make run do)" >&2
  return 1 2>/dev/null || exit 1
fi
libdir="$(dirname "$jar")/DynamoDBLocal_lib"
DDB_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
if [ -n "${1:-}" ]; then
  mkdir -p "$1"
  storage=(-dbPath "$1")
else
  storage=(-inMemory)
fi
java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.library.path="$libdir" -jar "$jar" \
  "${storage[@]}" -sharedDb -port "$DDB_PORT" >"${DDB_LOG:-/dev/null}" 2>&1 &
DDB_PID=$!
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DDB_PORT"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_REGION="${AWS_REGION:-us-east-1}" AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$DDB_PORT") 2>/dev/null; then break; fi
  if ! kill -0 "$DDB_PID" 2>/dev/null; then echo "DynamoDB Local exited at start" >&2; return 1 2>/dev/null || exit 1; fi
  sleep 0.2
done
