# Every target that runs code first runs scripts/setup.sh, which is quick once the machine is set up.
SHELL := /bin/bash
# Debian installs mosquitto in /usr/sbin; the tests and the demo start it by name.
export PATH := /usr/local/sbin:/usr/sbin:/sbin:$(PATH)

VENV := .venv

.PHONY: setup lint test demo bench locale locale-compile

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

# Translations (docs/translations.md): extract every marked message into the template, merge it into each
# language's catalog (new messages arrive untranslated, `test_i18n` fails until they are translated), compile the
# .mo files that ship as package data. `make locale-compile` only compiles, after a translator edited a .po.
LOCALE_DIR := facmon/resources/locale
LOCALES := zh_CN en
BABEL_PACKAGES := facmon sensors ingest analytics dashboards

locale: setup
	$(VENV)/bin/pybabel extract -F babel.cfg --no-location --sort-output --width 120 --project facmon \
		--copyright-holder "facmon" --msgid-bugs-address "" -o $(LOCALE_DIR)/facmon.pot $(BABEL_PACKAGES)
	for lang in $(LOCALES); do \
		if [ -f $(LOCALE_DIR)/$$lang/LC_MESSAGES/facmon.po ]; then \
			$(VENV)/bin/pybabel update -D facmon -i $(LOCALE_DIR)/facmon.pot -d $(LOCALE_DIR) -l $$lang \
				--ignore-obsolete --width 120 || exit 1; \
		else \
			$(VENV)/bin/pybabel init -D facmon -i $(LOCALE_DIR)/facmon.pot -d $(LOCALE_DIR) -l $$lang \
				--width 120 || exit 1; \
		fi; \
	done
	$(MAKE) locale-compile

locale-compile: setup
	$(VENV)/bin/pybabel compile -D facmon -d $(LOCALE_DIR) --statistics
