# ELMO assistant — `make run` (set up + serve the chat) and `make test` (set up + the whole test suite).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run test install install-test refresh lint eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first and pinned: an unpinned torch pulls the newest release with GBs of CUDA packages.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	@if ! command -v chromium >/dev/null; then \
	  echo "installing Debian chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; \
	fi
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

refresh: install
	$(BIN)/assistant refresh

run: install
	@if ! $(BIN)/python -c 'import sys; from assistant.config import load_settings; from assistant.knowledge.store import Store; sys.exit(0 if Store.open(load_settings()).live_sources() else 1)' 2>/dev/null; then \
	  echo "building the knowledge base from knowledge/ ..."; $(BIN)/assistant refresh || true; \
	fi
	$(BIN)/assistant serve

test: install-test
	$(BIN)/ruff check assistant tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check assistant tests benchmarks
	$(BIN)/lint-imports

eval: install
	$(BIN)/assistant eval

# benchmarks/ lives beside the package (not in the wheel); psutil comes with the test extras
bench: install-test
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf .index .pytest_cache
