# Every target does its own set-up: a fresh clone needs only Python 3.11 and make.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAGE ?= local
CHECKOV_VENV := .venv-checkov
STAMP := $(VENV)/.installed
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
REQUIREMENTS := requirements/dev.txt requirements/app.txt requirements/constraints.txt pyproject.toml

.PHONY: help setup demo test test-fast smoke bench doctor deploy sync-config lint typecheck chromium checkov-setup up down clean

help:
	@echo "make demo     run the offline stack and a real login, then serve until Ctrl-C"
	@echo "make test     set up and run every test (unit, Terraform, browser, hostile, faults)"
	@echo "make smoke    scripted login over real HTTP against a fresh offline stack"
	@echo "make bench    cold start, warm latency, calls per request, package size"
	@echo "make doctor STAGE=<stage>       compare config with the live resources"
	@echo "make sync-config STAGE=<stage>  regenerate config from Terraform outputs"
	@echo "make deploy STAGE=<stage>       apply, generate, chalice deploy, generate, doctor"

$(STAMP): $(REQUIREMENTS)
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required: install python3.11 (or set PYTHON=...)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt -c requirements/constraints.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

$(CHECKOV_STAMP): requirements/checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements/checkov.txt
	@touch $@

setup: $(STAMP)

checkov-setup: $(CHECKOV_STAMP)

chromium:
	@bash scripts/ensure-chromium.sh

demo: $(STAMP)
	$(PY) -m devstack demo

up: $(STAMP)
	$(PY) -m devstack up --detach

down: $(STAMP)
	$(PY) -m devstack down

test: $(STAMP) $(CHECKOV_STAMP) chromium
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not browser"

smoke: $(STAMP)
	$(PY) -m devstack smoke

bench: $(STAMP)
	$(PY) -m scripts.bench

doctor: $(STAMP)
	$(PY) -m scripts.doctor --stage $(STAGE)

sync-config: $(STAMP)
	$(PY) -m scripts.sync_config --stage $(STAGE) $(if $(OUTPUTS_FILE),--outputs-file $(OUTPUTS_FILE))

deploy: $(STAMP)
	$(PY) -m scripts.deploy --stage $(STAGE) $(if $(DRY_RUN),--dry-run)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

clean:
	-$(PY) -m devstack down
	rm -rf .devstack test-output bench-output
