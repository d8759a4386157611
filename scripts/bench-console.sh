#!/usr/bin/env bash
# `make bench-console`: the console's first-load weight and search-to-member-view time in headless
# Chromium against the local server (debug build, as `make run` serves it) and a fresh in-memory
# DynamoDB Local, both started here and stopped by PID. Prints a table (not a test).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-tools.sh
scripts/ensure-browser.sh
cargo build --locked -p partner-devtools --bin local-server
source scripts/dynamodb-local.sh ""
trap 'kill "$DDB_PID" 2>/dev/null || true' EXIT
.venv/bin/python bench/console.py
