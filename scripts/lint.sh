#!/usr/bin/env bash
# Lints template.yaml with cfn-lint and `sam validate --lint`, offline and without AWS credentials
# (any in the environment are ignored). Exits non-zero on any finding.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-venv.sh lint

lint_env=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE
  AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" SAM_CLI_TELEMETRY=0)
echo "cfn-lint template.yaml"
"${lint_env[@]}" .venv/bin/cfn-lint template.yaml
echo "sam validate --lint -t template.yaml"
"${lint_env[@]}" .venv/bin/sam validate --lint -t template.yaml
