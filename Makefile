# callwatch — every target installs what it needs first, so each works on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_SECONDS ?= 0
PYTEST_ARGS ?=

.PHONY: help
help: ## Show the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

.PHONY: install
install: $(STAMP) ## Create .venv and install callwatch with its dev tools
	@bash deploy/local/install-debian-packages.sh

.PHONY: services-up services-down services-status
services-up: $(STAMP) ## Start Kafka and Elasticsearch for the demo (PROFILE=test for the tests' own)
	$(BIN)/callwatch services up --profile $(or $(PROFILE),demo)
services-down: $(STAMP) ## Stop them
	$(BIN)/callwatch services down --profile $(or $(PROFILE),demo)
services-status: $(STAMP) ## Show whether they run
	$(BIN)/callwatch services status --profile $(or $(PROFILE),demo)

.PHONY: demo
demo: install ## Run the demo: services, worker and simulated feed; Ctrl-C stops all (DEMO_SECONDS=60 for a bounded run)
	$(BIN)/callwatch demo --seconds $(DEMO_SECONDS)

.PHONY: lint
lint: $(STAMP) ## ruff and mypy (strict on the pure core)
	$(BIN)/ruff check .
	$(BIN)/mypy streams schemas
	$(BIN)/mypy callwatch agents

.PHONY: test
test: install lint ## Install, start the test services, run every test (fault suite with 15 s outages), stop what it started
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: bench
bench: install ## Benchmark against the real services; prints figures
	$(BIN)/python -m tests.tools.bench

.PHONY: clean
clean: ## Stop services and remove the environment and local data
	-$(BIN)/callwatch services down --profile demo
	-$(BIN)/callwatch services down --profile test
	rm -rf $(VENV) .services .demo

.PHONY: faults
# CALLWATCH_FAULT_REPEAT=N runs each scenario N times (worst case per row); narrow it with
# PYTEST_ARGS='-k "killed or stopped or two_workers"'.
faults: install ## Fault suite alone, with outages of a minute; prints the fault table (CALLWATCH_FAULT_REPEAT=N)
	CALLWATCH_FAULT_DOWN_SECONDS=60 $(BIN)/python -m pytest tests/faults -m faults -s $(PYTEST_ARGS)

.PHONY: eval
eval: install ## Evaluation figures: per-rule precision/recall of findings on simulated ground truth
	$(BIN)/python -m tests.tools.eval_rules
