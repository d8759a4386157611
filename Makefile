# Entry points a newcomer types. Each installs what it needs (Java, DynamoDB Local) when missing.
.PHONY: run test build lint bench clean-local

# Start DynamoDB Local (persisting under .local/ddb-data), create the table from template.yaml,
# seed a demo org, serve every route on http://127.0.0.1:3000. Ctrl-C stops everything it started.
run:
	bash scripts/run.sh

# Unit and integration tests against DynamoDB Local on a free port; prints the summary line.
test:
	bash scripts/test.sh

clean-local:
	rm -rf .local/ddb-data
