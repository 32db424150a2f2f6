# Two commands: `make run` serves the app, `make test` runs the whole suite.
# Both create .venv if it is missing and install the pinned requirements first.
# `make classroom` serves the app for a class on a batching engine (llama.cpp's llama-server).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8501

.PHONY: run dev classroom test install install-dev lint bench clean llama-server llama-server-or-skip

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# llama-cpp-python compiles on install. It is built once into a wheel of our own (cached under WHEELS,
# keyed by version) for a portable x86-64 CPU: -march=native turns on llama.cpp's AMX kernels, which
# crash with SIGSEGV (ggml_backend_amx_mul_mat) where the OS does not grant AMX state, as on the
# development machines here. Bounded to 2 parallel compile jobs.
LLAMA_VERSION    := $(shell sed -n 's/^llama-cpp-python\[server\]==//p' requirements.txt)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
WHEELS           ?= $(HOME)/.cache/prompt-workbench/wheels

$(VENV)/.installed: requirements.txt | $(BIN)/python
	ls $(WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 \
	  $(BIN)/pip wheel --no-deps --no-cache-dir -w $(WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	$(BIN)/pip install --find-links $(WHEELS) -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .  # the project itself (editable): `workbench` on PATH
	touch $@

# llama.cpp's own llama-server (continuous batching, --parallel N slots) for `make classroom` and the
# OpenAI-compatible backend's tests: built once from the llama.cpp llama-cpp-python's sdist vendors, only the
# llama-server target, 2 compile jobs, portable (the same GGML_NATIVE/AMX switches as the wheel), cached by
# version under LLAMA_SERVER_DIR (where workbench/engine.py looks). `make test` and `make classroom` build or
# reuse it; where it cannot be built they go on without it (its tests skip and say why; the class is
# served in-process).
LLAMA_SERVER_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/prompt-workbench/bin
PARALLEL         ?= 8
ENGINE_PORT      ?= 8080

llama-server: | $(BIN)/python
	LLAMA_SERVER_DIR="$(LLAMA_SERVER_DIR)" LLAMA_SERVER_JOBS=2 PIP="$(BIN)/pip" \
	  bash scripts/build_llama_server.sh $(LLAMA_VERSION)

llama-server-or-skip: | $(BIN)/python
	@$(MAKE) --no-print-directory llama-server || \
	  echo "llama-server: not built (see above); the tests that need it are skipped, make classroom serves in-process"

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT)

# A class: llama-server with PARALLEL slots on 127.0.0.1:ENGINE_PORT, and the app (on HOST:PORT) pinned to it.
# Without llama-server the app is served in-process, the sessions decoded together there (WORKBENCH_SHARED_BATCH=8),
# said in one line.
classroom: install llama-server-or-skip
	$(BIN)/python -m workbench serve --engine llama-server --parallel $(PARALLEL) --port $(ENGINE_PORT) \
	    --app --app-host $(HOST) --app-port $(PORT)

# Developers only (never for a classroom): the file watcher and rerun-on-save, which `make run` leaves off.
dev: install
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
	    --server.fileWatcherType auto --server.runOnSave true

test: install-dev llama-server-or-skip
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/python -m ruff check .

bench: install-dev
	for b in bench/*.py; do $(BIN)/python -m bench.$$(basename $$b .py) || exit 1; done  # as modules: bench/ may import tests/

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts
