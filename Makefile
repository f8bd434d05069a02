# Every target that runs code first runs scripts/setup.sh, which is quick once the machine is set up.
SHELL := /bin/bash
# Debian installs mosquitto in /usr/sbin; the tests and the demo start it by name.
export PATH := /usr/local/sbin:/usr/sbin:/sbin:$(PATH)

VENV := .venv

.PHONY: setup lint test demo bench

setup:
	bash scripts/setup.sh

lint: setup
	$(VENV)/bin/ruff check .

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -q

# `make demo DEMO_ARGS=--keep-running` keeps the stack up until Ctrl-C; DEMO_ARGS='--output DIR' moves the report.
demo: setup
	$(VENV)/bin/facmon demo $(DEMO_ARGS)

bench: setup
	$(VENV)/bin/python bench/ingest.py
