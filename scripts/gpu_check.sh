#!/usr/bin/env bash
# `make gpu-check`: everything the CUDA backend owes on a machine with an NVIDIA GPU, in one
# run, with every result under $OUT (default build/gpu-check; at most 8 files, as the
# device tool brings back):
#   setup    the GPU, CPU, driver and packages; an offline install of what the machine
#            lacks from wheels in .whl/ (`make gpu-wheels` fetches them); `ringc devices`
#   tests    the backend-parametrised runtime and sample tests, CUDA loader tests (-k cuda)
#   bench    bench/runtime_bench.py --backend cuda: round trip, hop, bulk, pipeline, with
#            launch-per-message baselines in the same run (bench.json)
#   groups   bench/groups_bench.py --backend cuda: the work-group scaling curve (groups.json)
#   samples  samples/run_pipeline.py on CUDA (1,000,000 readings)
#   coop     bench/cooperative_bench.py --backend cuda: a 1,024-element reduction per
#            message cooperative (128 lanes) vs an ordered loop vs launch per message,
#            and f32x4 vs scalar
#   pocl     bench/groups_bench.py on PoCL over the machine's CPU cores, groups 1 to
#            cores - 1 (pocl.json; PoCL from .whl/, skipped with its reason if it cannot run)
#   memcheck, racecheck   compute-sanitizer on one program (scripts/sanitized_program.py)
# Each step has a time limit, and a step that would start past BUDGET seconds (default
# 420) is skipped and counted as failed, so the whole run ends inside the device tool's 10
# minutes a command (timeout_s 560) and a hung kernel costs one step, not the lease.
# RINGC_GPU_CHECK_STEPS="tests bench" runs only those steps after setup (a second try).
# The exit status is the number of failed steps (a missing compute-sanitizer counts);
# summary.txt lists each step.
#
# The device call, from this repository's root here (the GPU machine has no network):
#   make gpu-wheels                    # once: the wheels the GPU machine lacks, into .whl/
#   device run: command "bash scripts/gpu_check.sh", carry [".whl"], timeout_s 600
#
# Dry mode (RINGC_GPU_CHECK_DRY=1, `make gpu-check-dry`): the same steps on a machine
# without a GPU, with short runs: the install goes into a throwaway venv instead of the
# machine's Python, the CUDA tests skip with CUDA's reason, and the samples, the sanitized
# program and the benchmarks run on OpenCL, so a GPU lease is never spent on a broken
# script.
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-build/gpu-check}
PY=${PY:-python3}
DRY=${RINGC_GPU_CHECK_DRY:-0}
STEPS=${RINGC_GPU_CHECK_STEPS:-}
BUDGET=${RINGC_GPU_CHECK_BUDGET:-420}
mkdir -p "$OUT"
SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
failed=0
export PYTHONUNBUFFERED=1 RINGC_CACHE_DIR=${RINGC_CACHE_DIR:-/tmp/ringc-cache}

# step NAME SECONDS COMMAND...: run it with a time limit, log to $OUT/NAME.log, summarise.
# Shell functions run in a child bash (timeout runs programs), so they and their
# variables are exported.
step() {
    local name=$1 limit=$2
    shift 2
    if [ "$name" != setup ] && [ -n "$STEPS" ] && [[ " $STEPS " != *" $name "* ]]; then
        return
    fi
    local start=$SECONDS
    if [ $((start + limit / 2)) -gt "$BUDGET" ]; then
        failed=$((failed + 1))
        printf '%-10s %-20s %4ds  %s\n' "$name" "NOT RUN" 0 \
            "out of time: ${start}s of ${BUDGET}s spent" | tee -a "$SUMMARY"
        return
    fi
    echo "== $name (limit ${limit}s)"
    timeout -k 5 "$limit" bash -c '"$@"' step "$@" >"$OUT/$name.log" 2>&1
    local status=$?
    local verdict=pass
    if [ $status -eq 124 ] || [ $status -eq 137 ]; then verdict="TIMED OUT"
    elif [ $status -ne 0 ]; then verdict="FAILED (exit $status)"; fi
    [ "$verdict" = pass ] || failed=$((failed + 1))
    printf '%-10s %-20s %4ds  %s\n' "$name" "$verdict" $((SECONDS - start)) \
        "$(grep -E 'passed|failed|skipped|error|M msgs/s|p50|ERROR SUMMARY|conserved' \
           "$OUT/$name.log" | tail -n 1)" | tee -a "$SUMMARY"
    tail -n 15 "$OUT/$name.log"
}

setup() {
    date -u
    nvidia-smi || echo "nvidia-smi: not here"
    nproc
    grep -m1 "model name" /proc/cpuinfo
    "$PY" --version
    "$PY" -m pip list 2>/dev/null | grep -iE '^(cuda|numpy|jinja2|lark|pytest|hypothesis|pycuda|setuptools)'
    command -v compute-sanitizer nvcc || true
    # lark (and ringc, editable) from .whl/ without a network; the isolated build of ringc
    # takes setuptools from .whl/ too. Dry mode: into a fresh venv.
    local target=$PY
    if [ "$DRY" = 1 ]; then
        rm -rf /tmp/ringc-gpu-check-venv
        "$PY" -m venv /tmp/ringc-gpu-check-venv || return 1
        target=/tmp/ringc-gpu-check-venv/bin/python
    fi
    if ! "$target" -c "import lark" 2>/dev/null; then
        "$target" -m pip install --no-index --find-links .whl lark || return 1
    fi
    "$target" -m pip install --no-index --find-links .whl --no-deps -e . || return 1
    # PoCL for the `pocl` step; the machine may have no wheel for it (not a failure here)
    "$target" -m pip install -q --no-index --find-links .whl pyopencl pocl-binary-distribution \
        || echo "PoCL not installed: the pocl step will say why"
    "$target" -m pip show ringc lark | grep -E '^(Name|Version|Location)'
    "$PY" -c "from ringc.runtime import rings; print('host rings:', rings.IMPLEMENTATION)"
    "$PY" -m ringc.cli devices
}

# The hypothesis profile `gpu-check` (tests/conftest.py) does not shrink: a failing example
# is reported as found, not minimised for minutes.
tests() {
    local extra=()
    "$PY" -c "import pytest_timeout" 2>/dev/null && extra+=(--timeout 60)
    "$PY" -m pytest -p no:cacheprovider -rs "${extra[@]}" --hypothesis-profile gpu-check \
        -k cuda tests/runtime tests/test_samples_running.py tests/backends
}

# PoCL over the machine's cores: groups 1 .. cores - 1 (the last core is the host's).
pocl() {
    local cores top extra=()
    cores=$(nproc)
    top=$((cores > 1 ? cores - 1 : 1))
    [ "$DRY" = 1 ] && extra+=(--quick)
    "$PY" bench/groups_bench.py --backend opencl --groups "$(seq -s, 1 "$top")" \
        "${extra[@]}" --json "$OUT/pocl.json"
}

sanitizer() {
    local tool=$1 sanitizer
    sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
                /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -n 1)
    if [ -z "$sanitizer" ]; then
        echo "compute-sanitizer is not on this machine: $tool skipped"
        "$PY" scripts/sanitized_program.py --backend "$backend" || return  # does it run?
        [ "$DRY" = 1 ]                  # on a GPU machine a skipped sanitizer is a failure
        return
    fi
    "$sanitizer" --tool "$tool" --error-exitcode 3 --target-processes all \
        "$PY" scripts/sanitized_program.py --backend "$backend" --seconds 30
}

export -f setup tests pocl sanitizer
export PY DRY OUT
step setup 60 setup
backend=cuda quick=() readings=1000000
if [ "$DRY" = 1 ]; then
    quick=(--quick) readings=20000
    why=$("$PY" -c 'from tests.backend_support import unavailable; print(unavailable("cuda") or "")')
    if [ -n "$why" ]; then
        backend=opencl
        echo "dry run: samples, sanitized program and bench on opencl (cuda: $why)" | tee -a "$SUMMARY"
    fi
fi
export backend
step tests 200 tests
step bench 90 "$PY" bench/runtime_bench.py --backend "$backend" "${quick[@]}" --json "$OUT/bench.json"
step groups 100 "$PY" bench/groups_bench.py --backend "$backend" "${quick[@]}" --json "$OUT/groups.json"
step samples 45 "$PY" samples/run_pipeline.py --backend "$backend" --readings "$readings"
step coop 60 "$PY" bench/cooperative_bench.py --backend "$backend" "${quick[@]}"
step pocl 90 pocl
step memcheck 50 sanitizer memcheck
step racecheck 50 sanitizer racecheck
echo "$failed step(s) failed" | tee -a "$SUMMARY"
exit "$failed"
