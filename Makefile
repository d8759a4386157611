# Entry points a newcomer types. Each installs what it needs (Java, DynamoDB Local) when missing.
.PHONY: check run test build lint audit bench load burst metrics bench-init bench-auth bench-console browser-test clean-local import bench-import sweep seed-sweep bench-sweep

# Start DynamoDB Local (persisting under .local/ddb-data), create the table from template.yaml,
# seed a demo org, serve every route on http://127.0.0.1:3000 and the member-care console at
# http://127.0.0.1:3000/console/. Ctrl-C stops everything it started.
run:
	bash scripts/run.sh

# cargo fmt --check (rustfmt.toml) and cargo clippy --workspace --all-targets -D warnings
# ([workspace.lints]); CI runs it before make test.
check:
	bash scripts/check.sh

# Unit and integration tests against DynamoDB Local and moto (S3, SQS) on free ports; prints the
# summary line.
test:
	bash scripts/test.sh

# A partner tier file through the import's and the worker's own code, with a progress bar, against
# DynamoDB Local and moto (S3, SQS) started for it: make import FILE=tests/fixtures/partner-file-sample.csv PROGRAM=SkyMiles
import:
	bash scripts/import.sh $(FILE) $(PROGRAM)

# Every Lambda in template.yaml as an arm64 bootstrap (cargo lambda build --release --arm64, the
# way `sam build` does it; installs cargo-lambda + zig into .venv); prints each size.
build:
	bash scripts/build.sh

# A per-metric summary (documents, sum/min/p50/max per metric and dimension set) of the EMF metric
# documents in a log: `make run 2>&1 | tee server.log`, some requests, then `make metrics FILE=server.log`.
# Works on a Lambda's log exported from CloudWatch Logs too.
metrics:
	bash scripts/metrics.sh $(FILE)

# Only the console's browser tests (tests/browser: headless Chromium against the local server; make
# test runs them too). Needs DynamoDB Local: run inside `make test`'s environment or export
# AWS_ENDPOINT_URL_DYNAMODB. Screenshots land in target/browser-screenshots/.
browser-test:
	bash scripts/browser-test.sh $(ARGS)

# The console's first-load weight (per file) and search-to-member-view time (p50/p90 of 20
# searches) in headless Chromium against the local server; prints a table (not a test).
bench-console:
	bash scripts/bench-console.sh

# cfn-lint and `sam validate --lint` on template.yaml (make test runs it too).
lint:
	bash scripts/lint.sh

# cargo deny check advisories: the RustSec database, which must be fetched from its git repository
# (machines that reach only the package registries cannot; `make test` runs the offline checks).
audit:
	bash scripts/deny.sh advisories

# Every performance figure in one run (not part of `make test`): release and arm64 builds, latency
# per operation with the DynamoDB split and round trips, cold starts, the Python peer baseline, the
# sweep; writes bench/results.json, bench/REPORT.md and bench/chart.png (~15-20 min on 2 cores with
# the builds cached). BENCH_QUICK=1 for a few minutes; other knobs in scripts/bench.sh.
bench:
	bash scripts/bench.sh

# A fixed mix (benefits, reads, updates, history, links) at fixed concurrency for a fixed time
# against the local server and DynamoDB Local; prints a table (not a test). ARGS="--seconds 60".
load:
	bash scripts/load.sh $(ARGS)

# Parallel batches of 50 customers (10 links of distinct customers, 10 benefit batches over the
# same 50, 40 links) against the local server on the Lambdas' SDK settings, for each storage
# admission bound (STORAGE_CONCURRENCY): items by code, 503s, wall time against DynamoDB Local's
# own time, counter mismatches (not a test; ~10 min). ARGS="--bounds 32".
burst:
	bash scripts/load.sh burst $(ARGS)

# make build, then the x86_64 init time of each release binary under the Runtime API harness
# (process start to first /invocation/next, p50 of 20 starts).
bench-init:
	bash scripts/bench-init.sh

# 401 response time for a wrong secret of an existing client vs an unknown client (interleaved
# requests through the local server; AUTH_BENCH_ROUNDS=400 each by default).
bench-auth:
	bash scripts/test.sh auth_timing -- --ignored --nocapture

# Run the tier-expiry sweep once against DynamoDB Local (the make run table; reuses make run's
# DynamoDB Local when it is up) and print its JSON summary. ARGS="--at 2031-01-01T00:00:00Z" sweeps
# as of another moment; ARGS="--max-items 100" stops early.
sweep:
	bash scripts/sweep-local.sh run $(ARGS)

# Seed N linkages (DUE of them due now) into the make run table, with a progress bar.
N ?= 10000
DUE ?= 1000
seed-sweep:
	bash scripts/sweep-local.sh seed --linkages $(N) --due $(DUE)

# Sweep benchmark (release build, fresh in-memory DynamoDB Local): 10,000 and 100,000 linkages with
# 1,000 due; items read per change, sweep time, changes per second.
bench-sweep:
	bash scripts/bench-sweep.sh $(ARGS)

# Partner files of 10,000 and 100,000 rows through the import and a worker process (release build)
# against DynamoDB Local and moto: rows/s against DynamoDB Local's own rate for the same
# transactions, and the worker's peak RSS (docs/file-sync.md#benchmark).
bench-import:
	bash scripts/bench-import.sh $(ARGS)

clean-local:
	rm -rf .local/ddb-data
