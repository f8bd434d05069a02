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
	$(VENV)/bin/pytest -q

demo: setup
	$(VENV)/bin/facmon demo

bench: setup
	$(VENV)/bin/python bench/ingest.py
