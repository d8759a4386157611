#!/usr/bin/env bash
# Schema fuzzing: schemathesis (pinned in .venv) generates requests from openapi.yaml against the
# local server (the same handlers the Lambdas run) over DynamoDB Local, as an admin client of a
# demo org, and fails on any 5xx or any response that does not conform to the document.
# Needs AWS_ENDPOINT_URL_DYNAMODB (scripts/test.sh starts DynamoDB Local) and target/debug/local-server.
#   FUZZ_EXAMPLES (default 40): test cases per operation and phase; FUZZ_SEED (default 1).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-venv.sh fuzz
: "${AWS_ENDPOINT_URL_DYNAMODB:?start DynamoDB Local first (scripts/test.sh does)}"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
out=$(mktemp -d)
TABLE_NAME="fuzz-$$" LOG_LEVEL=warn target/debug/local-server --port "$port" --seed-demo >"$out/server.out" 2>"$out/server.err" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 1 150); do
  grep -q "listening" "$out/server.out" && break
  kill -0 "$server" 2>/dev/null || { echo "local server exited at start"; cat "$out/server.err"; exit 1; }
  sleep 0.2
done
admin=$(awk '/^admin client:/ {print $3":"$5}' "$out/server.out")

set +e
# The coverage phase is left out: with this schema it trips a Hypothesis internal error
# (SystemError in its lambda-source reflection), not a finding about the API.
.venv/bin/schemathesis run openapi.yaml --url "http://127.0.0.1:$port" -a "$admin" \
  --phases examples,fuzzing,stateful --max-examples "${FUZZ_EXAMPLES:-40}" --seed "${FUZZ_SEED:-1}" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --workers 1 --no-color --report json --report-json-path "$out/report.json" >"$out/st.log" 2>&1
status=$?
set -e
python3 - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("schemathesis: test cases per route (its validity statistics: accepted + rejected)")
for op, phases in sorted(r.get("valid_rates", {}).items()):
    n = sum(sum(v for v in p.values()) for p in phases.values())
    print(f"  {n:5d}  {op}")
failures = r.get("failures", [])
server_errors = sum(1 for f in failures if "server" in json.dumps(f).lower() and "error" in json.dumps(f).lower())
print(f"schemathesis: {r['test_cases']['generated']} test cases, {len(failures)} failures, "
      f"{server_errors} with a 5xx, {len(r.get('errors', []))} errors")
PY
if [ "$status" -ne 0 ]; then
  tail -80 "$out/st.log"
  echo "schema fuzzing failed"
fi
exit "$status"
