# Runbooks — developer entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
SERVICES := orchestrator listener runner chatops health-monitor

.PHONY: help build release test faults validate lint fmt schemas run demo demo-check compose-check bench clean

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## compile every crate and binary (debug)
	$(CARGO) build --workspace --all-targets

release: ## optimised binaries in target/release
	$(CARGO) build --workspace --release --bins

test: validate ## the whole test suite against local PostgreSQL and RabbitMQ (what CI runs)
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast && \
		TEST_BUS_QUEUE_TYPE=quorum $(CARGO) nextest run -p bus --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast && \
		TEST_BUS_QUEUE_TYPE=quorum $(CARGO) test -p bus --no-fail-fast; \
	fi
	@$(MAKE) --no-print-directory faults
	@$(MAKE) --no-print-directory demo-check

faults: ## the fault-injection suite (docs/FAULTS.md): the binaries SIGKILLed, broker and database stopped under load; RUNBOOKS_FAULTS_SEED=<n> replays a run
	# The whole workspace, as the other targets build it: the same artifacts, no second build.
	$(CARGO) build --bins
	$(CARGO) test --workspace --test faults -- --ignored --nocapture

validate: ## deployment files: compose, Kubernetes, Kibana, Slack, workflow (installs its tools with pip)
	./deploy/validate.sh --install

lint: ## rustfmt check + clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

schemas: ## regenerate docs/schemas from the domain types
	UPDATE_SCHEMAS=1 $(CARGO) test -p domain schema

bench: ## benchmarks: orchestrator ingest pipeline, listener tailing (prints numbers; see docs/BENCHMARKS.md)
	$(CARGO) bench -p orchestrator --bench pipeline
	$(CARGO) bench -p orchestrator --bench memory
	$(CARGO) bench -p listener --bench tail

demo: ## the five services natively with simulated Jenkins and Elasticsearch: a failed build, detected, restarted, resolved; then the dashboard on :5050 until Ctrl-C
	$(CARGO) build --bins
	$${CARGO_TARGET_DIR:-target}/debug/demo

demo-check: ## the demo's story, checked: exits 0 only when every step happened
	$(CARGO) build --bins
	$${CARGO_TARGET_DIR:-target}/debug/demo --check

compose-check: ## docker compose up for real (installs the engine if missing): the README's story in containers, scaled, killed, restarted (deploy/compose-check/)
	./deploy/compose-check/run.sh

run: ## run all five services natively, logs prefixed per service
	$(CARGO) build --bins
	./deploy/run-local.sh $(SERVICES)

clean:
	$(CARGO) clean
