# Runbooks — developer entry points. `make help` lists them.
SHELL := /bin/bash
CARGO ?= cargo
SERVICES := orchestrator listener runner chatops health-monitor

.PHONY: help build release test validate lint fmt schemas run bench clean

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## compile every crate and binary (debug)
	$(CARGO) build --workspace --all-targets

release: ## optimised binaries in target/release
	$(CARGO) build --workspace --release --bins

test: validate ## the whole test suite against local PostgreSQL and RabbitMQ (what CI runs)
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

validate: ## deployment files: compose, Kubernetes, Kibana, Slack, workflow (installs its tools with pip)
	./deploy/validate.sh --install

lint: ## rustfmt check + clippy with warnings as errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

schemas: ## regenerate docs/schemas from the domain types
	UPDATE_SCHEMAS=1 $(CARGO) test -p domain schema

bench: ## ingest pipeline benchmark (prints numbers; see docs/BENCHMARKS.md)
	$(CARGO) bench -p orchestrator --bench pipeline

run: ## run all five services natively, logs prefixed per service
	$(CARGO) build --bins
	./deploy/run-local.sh $(SERVICES)

clean:
	$(CARGO) clean
