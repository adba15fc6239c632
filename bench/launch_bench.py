"""Start-up cost: `import ringc`, and a warm `rc.launch` of a sample in a new process.

Every measurement runs in a fresh Python process (`--runs` of each, the median reported),
with `RINGC_CACHE_DIR` a temporary directory warmed by one launch first (its time is shown
as "cold"), and Python's .pyc files written and read as in an installed package (under a
temporary `PYTHONPYCACHEPREFIX`); `import ringc` is also timed without them, as
`PYTHONDONTWRITEBYTECODE=1` runs it. Goals (the issue): `import ringc` under 100 ms;
`rc.launch` of the sample, from the call until it returns, at most 50 ms when the caches
are warm. The sample's own module (its `@rc.message` / `@rc.ring_kernel` classes) is
imported before the clock starts.

The breakdown comes from other processes that time ringc's stages by wrapping them: ringc
modules the launch loads (compiler, codegen, runtime), pyopencl's import, the check of
PoCL's cache (`backends/opencl/cache.configure`), the frontend (classes -> verified IR),
codegen (or its cache), finding the OpenCL device (PoCL starts), the context, the program
build, the rest of the loader (queue, memory, kernel object), the first enqueue, and the
rest of the runtime's start (mostly waiting until the device loop runs). "floor" is the same
OpenCL work done with pyopencl alone (import, platform, context, build of the same source
from PoCL's cache, queue, one enqueue of a kernel that returns at once): what ringc cannot
go below on this machine. `--sample` picks another .py file; `--runs` the repetitions.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT_GOAL_MS = 100.0
LAUNCH_GOAL_MS = 50.0


def _child_import(_sample: str) -> dict:
    start = time.perf_counter()
    import ringc  # noqa: F401
    return {"import": time.perf_counter() - start}


def _sample_kernels(sample: str) -> list[type]:
    """The kernel classes of the sample, imported as a plain module (not through ringc's
    frontend, which would load the compiler before the clock starts)."""
    from ringc.dsl import is_kernel
    spec = importlib.util.spec_from_file_location("bench_sample", sample)
    module = sys.modules["bench_sample"] = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(Path(sample).parent))
    spec.loader.exec_module(module)
    return [k for k in vars(module).values() if is_kernel(k) and k.__module__ == module.__name__]


def _child_launch(sample: str) -> dict:
    start = time.perf_counter()
    import ringc as rc
    imported = time.perf_counter()
    kernels = _sample_kernels(sample)
    loaded = time.perf_counter()
    runtime = rc.launch(kernels, backend="opencl")
    launched = time.perf_counter()
    runtime.shutdown()
    return {"import": imported - start, "sample": loaded - imported,
            "launch": launched - loaded, "shutdown": time.perf_counter() - launched}


def _child_breakdown(sample: str) -> dict:
    """rc.launch with its stages wrapped by timers (they do not nest)."""
    import ringc as rc
    kernels = _sample_kernels(sample)
    times: dict[str, float] = {}
    start = time.perf_counter()
    from ringc import codegen, launcher
    from ringc.backends.opencl import cache, loader
    times["modules"] = time.perf_counter() - start
    start = time.perf_counter()
    import pyopencl  # noqa: F401
    times["pyopencl"] = time.perf_counter() - start
    start = time.perf_counter()
    cache.configure()                      # PoCL's cache checked (once per process)
    times["cache check"] = time.perf_counter() - start

    def timed(owner, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        def wrapper(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                times[stage] = times.get(stage, 0.0) + time.perf_counter() - begin
        setattr(owner, name, wrapper)

    timed(launcher, "_program", "frontend")
    timed(codegen, "generate_cached", "codegen")
    timed(loader, "devices", "device")
    timed(loader, "_context", "context")
    timed(loader, "_built", "build")
    timed(loader, "load", "loader")
    timed(loader.OpenCLDevice, "launch", "enqueue")
    timed(launcher, "Runtime", "start")
    begin = time.perf_counter()
    runtime = rc.launch(kernels, backend="opencl")
    times["launch"] = time.perf_counter() - begin
    runtime.shutdown()
    times["loader"] -= times["device"] + times["context"] + times["build"]
    times["start"] -= times["enqueue"]
    return times


def _child_floor(sample: str) -> dict:
    """The OpenCL work of a launch with pyopencl alone (the source built as ringc does)."""
    import ringc as rc
    from ringc.backends.opencl.toolchain import build_options
    source = rc.compile(_sample_kernels(sample), "opencl").source
    source += "\n__kernel void rc_bench_nothing(__global uint *x) { }\n"
    times = {}
    begin = time.perf_counter()
    from ringc.backends.opencl import toolchain
    cl = toolchain.opencl()
    times["pyopencl import"] = time.perf_counter() - begin
    begin = time.perf_counter()
    device = toolchain.devices()[0]
    context = cl.Context([device])
    times["context"] = time.perf_counter() - begin
    begin = time.perf_counter()
    program = cl.Program(context, source).build(options=list(build_options()),
                                                cache_dir=False)
    times["build"] = time.perf_counter() - begin
    begin = time.perf_counter()
    queue = cl.CommandQueue(context)
    buffer = cl.Buffer(context, cl.mem_flags.READ_WRITE, 4)
    cl.Kernel(program, "rc_bench_nothing")(queue, (1,), (1,), buffer).wait()
    times["queue + enqueue"] = time.perf_counter() - begin
    times["floor"] = sum(times.values())
    return times


CHILDREN = {"import": _child_import, "launch": _child_launch,
            "breakdown": _child_breakdown, "floor": _child_floor}


def _run(kind: str, sample: str, env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--sample", sample],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"the {kind} process failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env(cache: str, bytecode: bool) -> dict:
    """A child's environment: ringc importable from this tree, every cache under `cache`;
    `bytecode`: Python's .pyc files written once and then read (under a prefix of our own,
    so the source tree stays clean), as for an installed package."""
    env = {**os.environ, "RINGC_CACHE_DIR": cache,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                       os.environ.get("PYTHONPATH")]))}
    env.pop("POCL_CACHE_DIR", None)
    if bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(Path(cache) / "pyc")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def warm_startup(runs: int, sample: str = str(ROOT / "samples" / "pipeline.py")) -> tuple[
        float, float]:
    """Median ms, over `runs` new processes each, of `import ringc` and of `rc.launch` of
    the sample's kernels, with warm caches (what `main` reports as such)."""
    with tempfile.TemporaryDirectory() as cache:
        env = _env(cache, bytecode=True)
        _run("launch", sample, env)                              # warms the caches
        imports = _median([_run("import", sample, env) for _ in range(runs)])
        launches = _median([_run("launch", sample, env) for _ in range(runs)])
    return imports["import"] * 1e3, launches["launch"] * 1e3


def _median(runs: list[dict]) -> dict:
    return {key: statistics.median(run.get(key, 0.0) for run in runs) for key in runs[0]}


def _least(runs: list[dict], key: str) -> float:
    return min(run[key] for run in runs) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sample", default=str(ROOT / "samples" / "pipeline.py"))
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args.sample)))
        return
    with tempfile.TemporaryDirectory() as cache:
        plain = _env(cache, bytecode=False)
        unwritten = _median([_run("import", args.sample, plain) for _ in range(args.runs)])
        env = _env(cache, bytecode=True)     # as installed
        cold = _run("launch", args.sample, env)
        import_runs = [_run("import", args.sample, env) for _ in range(args.runs)]
        launch_runs = [_run("launch", args.sample, env) for _ in range(args.runs)]
        imports, launches = _median(import_runs), _median(launch_runs)
        parts = _median([_run("breakdown", args.sample, env) for _ in range(args.runs)])
        _run("floor", args.sample, env)          # PoCL builds the floor's program once
        floor = _median([_run("floor", args.sample, env) for _ in range(args.runs)])
    ms = {key: value * 1e3 for key, value in launches.items()}
    name = Path(args.sample).name
    print(f"start-up, {name}, median of {args.runs} new processes (warm caches)")
    print(f"  import ringc   {imports['import'] * 1e3:7.1f} ms   "
          f"ratio to goal ({IMPORT_GOAL_MS:.0f} ms): {imports['import'] * 1e3 / IMPORT_GOAL_MS:.2f}"
          f"   (least {_least(import_runs, 'import'):.1f} ms; without .pyc files: "
          f"{unwritten['import'] * 1e3:.1f} ms)")
    print(f"  rc.launch      {ms['launch']:7.1f} ms   "
          f"ratio to goal ({LAUNCH_GOAL_MS:.0f} ms): {ms['launch'] / LAUNCH_GOAL_MS:.2f}"
          f"   (least {_least(launch_runs, 'launch'):.1f} ms; cold, empty caches: "
          f"{cold['launch'] * 1e3:.0f} ms)")
    print(f"  (import ringc in that process {ms['import']:.1f} ms, the sample's module "
          f"{ms['sample']:.1f} ms, shutdown {ms['shutdown']:.1f} ms)")
    print("  launch breakdown (ms):")
    before = ("modules", "pyopencl", "cache check")
    stages = ("frontend", "codegen", "device", "context", "build", "loader", "enqueue",
              "start")
    for stage in before + stages:
        print(f"    {stage:12} {parts.get(stage, 0.0) * 1e3:7.1f}")
    rest = parts["launch"] - sum(parts.get(s, 0.0) for s in stages)
    print(f"    {'other':12} {rest * 1e3:7.1f}")
    print(f"    {'total':12} {(parts['launch'] + sum(parts[s] for s in before)) * 1e3:7.1f}")
    print("  floor, pyopencl alone (ms): " + ", ".join(
        f"{key} {value * 1e3:.1f}" for key, value in floor.items()))


if __name__ == "__main__":
    main()
