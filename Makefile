# ringc — `make run` and `make test` set everything up themselves (in .venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RINGC := $(VENV)/bin/ringc
STAMP := $(VENV)/.ringc-installed
SAMPLES := $(wildcard samples/*.py)

.PHONY: setup run test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=77"
	$(PY) -m pip install -q -e ".[opencl,cuda,dev]"
	touch $(STAMP)

# Until the runtime lands, the main job is the compiler's: every sample to every target,
# then each program built by every toolchain present (PoCL, NVRTC/nvcc, the Metal shim).
run: setup
	@for f in $(SAMPLES); do \
	  echo "== $$f"; \
	  $(RINGC) compile $$f --target all -o build/ || exit 1; \
	  $(RINGC) compile $$f --emit ir -o build/ || exit 1; \
	  $(RINGC) check $$f --target all || exit 1; \
	done

lint: setup
	$(VENV)/bin/ruff check ringc backends templates tests bench samples

test: setup lint
	$(PY) -m pytest

bench: setup
	$(PY) bench/compile_bench.py

clean:
	rm -rf build out .pytest_cache
