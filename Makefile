# ringc — `make run` and `make test` set everything up themselves (in .venv).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RINGC := $(VENV)/bin/ringc
STAMP := $(VENV)/.ringc-installed
SAMPLES := $(filter-out samples/run_%,$(wildcard samples/*.py))

.PHONY: setup run test lint bench gpu-wheels gpu-check gpu-check-dry clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py ringc/runtime/_rings.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip "setuptools>=77"
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

# The main job: every sample compiled for every target into build/, then the pipeline
# sample launched on the default backend (OpenCL on PoCL) with a live stream of readings.
run: setup
	@for f in $(SAMPLES); do \
	  $(RINGC) compile $$f --target all -o build/ || exit 1; \
	done
	@echo "compiled $(words $(SAMPLES)) samples for cuda, opencl and metal into build/"
	$(PY) samples/run_pipeline.py

lint: setup
	$(VENV)/bin/ruff check ringc backends templates tests bench samples scripts

test: setup lint
	$(PY) -m pytest

bench: setup
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) bench/compile_bench.py
	$(PY) bench/floor_bench.py
	$(PY) bench/runtime_bench.py
	$(PY) bench/container_bench.py
	$(PY) bench/time_bench.py
	$(PY) bench/queues_bench.py
	$(PY) bench/launch_bench.py
	$(PY) bench/message_bench.py
	$(PY) bench/groups_bench.py
	$(PY) bench/cooperative_bench.py
	$(PY) bench/charts.py
	$(PY) bench/scale_bench.py

# The GPU machine (Python 3.12, x86-64, no network) lacks lark, and PoCL for the check of
# work-groups over its CPU cores; ringc's editable install builds with setuptools>=77.
# Fetch them as wheels here (about 60 MB, under the device tool's 64 MiB with the tree);
# the device tool carries .whl/ there.
GPU_WHEEL_PLATFORM = --python-version 3.12 --implementation cp \
	--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64
gpu-wheels: setup
	$(PY) -m pip download -q --no-deps --only-binary=:all: $(GPU_WHEEL_PLATFORM) -d .whl \
	  "lark>=1.1" "setuptools>=77" pyopencl pocl-binary-distribution pytools platformdirs siphash24

# On the GPU machine: `make gpu-check` (results under $$OUT; see scripts/gpu_check.sh).
gpu-check:
	bash scripts/gpu_check.sh

# Here, without a GPU: the same script with short runs, OpenCL standing in for CUDA.
gpu-check-dry: setup gpu-wheels
	RINGC_GPU_CHECK_DRY=1 PY=$(PY) bash scripts/gpu_check.sh

clean:
	rm -rf build out .pytest_cache
