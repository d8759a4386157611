#!/usr/bin/env bash
# The console's browser tests (tests/browser): headless Chromium through ChromeDriver against the
# local server, which the tests start on a free port and stop by PID. Needs DynamoDB Local
# (AWS_ENDPOINT_URL_DYNAMODB, as `make test` sets it) and the debug local-server binary.
# Screenshots of each view land in target/browser-screenshots/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-browser.sh
# The console's files are embedded at build time: build, so the tests see the files as they are.
cargo build --locked -q -p partner-devtools --bin local-server
exec .venv/bin/python -m pytest -p no:cacheprovider -q -rA tests/browser "$@"
