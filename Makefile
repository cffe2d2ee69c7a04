# Two commands do all the set-up (README "Quick start"):
#   make run   - install, synthesize the CDK app into cdk.out/, run workflows/customer-support.json locally
#   make test  - install and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Tools whose pins fight the project's (checkov), in a venv of their own; the tests call them there.
TOOLS := .venv-tools
export PATH := $(CURDIR)/$(BIN):$(PATH)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
WORKFLOW ?= workflows/customer-support.json
INPUT ?= examples/customer-support.input.json
PYTEST_ARGS ?=

.PHONY: install run synth test bench clean

install: $(VENV)/.installed node_modules/.installed $(TOOLS)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# nova-act's own state model checks what `stepgraph deploy-state` writes (the SDK itself is not installed)
	$(BIN)/python -m pip download --quiet --no-deps nova-act==3.4.187.0 -d $(VENV)/wheels
	touch $@

$(TOOLS)/.installed: requirements-tools.txt
	test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet -r requirements-tools.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: install
	$(BIN)/python app.py

run: synth
	$(BIN)/stepgraph run $(WORKFLOW) --input $(INPUT)

test: install
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

# every row of docs/performance.md, each next to its target and its same-run baseline (~5 minutes)
bench: install
	$(BIN)/python benchmarks/compiler.py
	$(BIN)/python benchmarks/local_engine.py
	$(BIN)/python benchmarks/cli_run.py
	$(BIN)/python benchmarks/cold_init.py
	$(BIN)/python benchmarks/synth.py

clean:
	rm -rf cdk.out .stepgraph .pytest_cache
