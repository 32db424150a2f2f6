# Two commands: `make run` serves the app, `make test` runs the whole suite.
# Both create .venv if it is missing and install the pinned requirements first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8501

.PHONY: run dev test install install-dev lint bench clean

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

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT)

# Developers only (never for a classroom): the file watcher and rerun-on-save, which `make run` leaves off.
dev: install
	$(BIN)/streamlit run app.py --server.address $(HOST) --server.port $(PORT) \
	    --server.fileWatcherType auto --server.runOnSave true

test: install-dev
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/python -m ruff check .

bench: install-dev
	for b in bench/*.py; do $(BIN)/python -m bench.$$(basename $$b .py) || exit 1; done  # as modules: bench/ may import tests/

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts
