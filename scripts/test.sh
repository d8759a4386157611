#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, lints template.yaml, builds the
# Lambda binaries, starts DynamoDB Local and moto (S3, SQS) on free ports, runs unit, integration
# and Runtime API tests, the schema fuzzer and the console's browser tests, stops both by PID,
# prints the summary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-tools.sh

# template.yaml must pass cfn-lint and `sam validate --lint` (offline; tools pinned in .venv).
if ! scripts/lint.sh; then
  echo "template lint failed"
  exit 1
fi

# Supply chain: licenses, bans and sources of every dependency (deny.toml), offline.
if ! scripts/deny.sh; then
  echo "cargo deny check failed"
  exit 1
fi

# The Runtime API tests (tests/runtime) start the compiled Lambda binaries: build them first.
cargo build --workspace --bins --locked

source scripts/dynamodb-local.sh ""
trap 'kill "$DDB_PID" 2>/dev/null || true' EXIT
echo "DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB (pid $DDB_PID)"
# The partner-file tests' S3 and SQS: moto's server (scripts/moto.sh, docs/tooling.md#moto).
source scripts/moto.sh
trap 'kill "$DDB_PID" "$MOTO_PID" 2>/dev/null || true' EXIT
echo "moto (S3, SQS) on $AWS_ENDPOINT_URL_S3 (pid $MOTO_PID)"

log=$(mktemp)
# Every response of the API suite is validated against openapi.yaml; each is logged here.
export OPENAPI_VALIDATION_LOG
OPENAPI_VALIDATION_LOG=$(mktemp)
set +e
# --no-fail-fast: a failing suite must not hide the results of the suites after it.
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# Schema fuzzing against the local server (0 5xx, every response as openapi.yaml says); counted
# as one more test in the summary.
echo
if scripts/fuzz.sh; then fuzz_passed=1; fuzz_failed=0; else fuzz_passed=0; fuzz_failed=1; status=1; fi
# The console in a real headless Chromium (tests/browser, pytest); its counts join the summary.
echo
browser_log=$(mktemp)
set +e
scripts/browser-test.sh 2>&1 | tee "$browser_log"
browser_status=${PIPESTATUS[0]}
set -e
read -r browser_passed browser_failed < <(awk '/ passed| failed| error/ && /in [0-9.]+s/ {
  for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p = $(i-1); if ($i ~ /^(failed|errors?)/) f += $(i-1) } }
  END { print p+0, f+0 }' "$browser_log")
rm -f "$browser_log"
if [ "$browser_status" -ne 0 ]; then
  status=1
  # A run that failed before its summary (no browser, no server) still counts as a failure.
  [ "$browser_failed" -gt 0 ] || browser_failed=1
fi
read -r passed failed < <(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } } END { print p+0, f+0 }' "$log")
rm -f "$log"
echo
echo "openapi.yaml: $(wc -l < "$OPENAPI_VALIDATION_LOG") API responses validated against the document"
rm -f "$OPENAPI_VALIDATION_LOG"
echo
echo "$(( ${passed:-0} + fuzz_passed + browser_passed )) passed, $(( ${failed:-0} + fuzz_failed + browser_failed )) failed"
exit "$status"
