# Works on a machine with only Python 3.11, pip and make: uv is installed with pip when missing.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: setup test test-containers demo stack lint typecheck sandbox schemas docs bench bench-scale faults audit

setup:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check uv
	@$(UV) sync --frozen --quiet

## make test: every test suite, against the embedded broker and database (or yours, via env).
test: setup
	@$(UV) run --frozen pytest

## make test-containers: every suite on Apache Kafka (KRaft) and PostgreSQL containers (testcontainers);
## one line and success where no Docker engine is reachable.
test-containers: setup
	@why=$$($(UV) run --frozen python -c "from connector_runtime.devstack.containers import docker_unavailable; print(docker_unavailable() or '')"); \
	if [ -n "$$why" ]; then echo "make test-containers: skipped: $$why"; exit 0; fi; \
	CONNECTOR_TEST_INFRA=containers $(UV) run --frozen pytest

## make demo: the whole connector on the embedded stack and the seed's story end to end.
demo: setup
	@$(UV) run --frozen connector-demo

## make stack: only the embedded Kafka and PostgreSQL, until Ctrl-C.
stack: setup
	@$(UV) run --frozen connector-stack

sandbox: setup
	@$(UV) run --frozen exact-sandbox --port 8765

lint: setup
	@$(UV) run --frozen ruff check .

typecheck: setup
	@$(UV) run --frozen mypy libs/contracts/src libs/runtime/src services/auth/src services/datasource/src \
		services/ingest/src sandbox/exact/src examples/ledger_sink/src cli/src demo/src bench/src

## Known-vulnerable dependencies in uv.lock (pip-audit; where PyPI's advisory data is unreachable, the
## PyPA advisory snapshot in .ci/advisories.json). CI runs it.
audit: setup
	@.ci/audit

## Record an additive contract change (after bumping SCHEMA_VERSION); refuses breaking ones.
schemas: setup
	@$(UV) run --frozen python -m contracts.schema_history

## Regenerate docs/asyncapi.json and docs/asyncapi.html from the services' FastStream apps.
docs: setup
	@$(UV) run --frozen python -m connector_demo.asyncapi

## make bench: benchmarks P1-P6 on the embedded stack (~15 min); bench/results.json + a table.
bench: setup
	@$(UV) run --frozen python -m bench

## make bench-scale: P7, 1,000 companies on 1, 2 and 3 ingest replicas (~1 h); bench/scale-results.json.
bench-scale: setup
	@$(UV) run --frozen python -m bench.perf.scale_suite

## make faults: the fault suite R1-R12 on the embedded stack (~30 min); bench/faults.json.
faults: setup
	@$(UV) run --frozen python -m bench.faults
