"""What pyproject.toml cannot say statically: the packages and extras follow the tree.

Every folder under backends/ with a `target.py` is a target (docs/architecture.md) and
ships as `ringc.backends.<name>` with its templates and headers; its `requirements.txt`,
if any, is the extra named after it (`pip install 'ringc[opencl]'`), and
`requirements-<extra>.txt` an alternative extra (cuda's `pycuda`). `prometheus` is the
metrics exporter's (ringc/prometheus.py); `all` is every target's own extra and it. `dev`
carries prometheus_client too, so the test suite runs the exporter's tests. Adding a
target edits nothing here.

The sample programs ship as `ringc.samples` (`ringc samples` lists and runs them), the
documentation as `ringc.docs` (`ringc docs` lists and prints its pages).
`ringc.runtime._rings` (the host's ring loops in C, ringc/runtime/rings.py) is optional: a
build without a C compiler or Python's headers warns and installs the pure-Python path.
"""

from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).parent
TARGETS = sorted(p.parent.name for p in (ROOT / "backends").glob("*/target.py"))


def _requirements(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


PROMETHEUS = ["prometheus_client>=0.20"]     # start_http_server returns (server, thread)
NOTEBOOKS = ["nbclient>=0.9", "ipykernel>=6", "nbformat>=5"]     # tests/test_notebook.py
extras = {"dev": ["pytest>=8", "hypothesis>=6.100", "ruff>=0.5", "mypy>=1.13", *PROMETHEUS,
                  *NOTEBOOKS],
          "prometheus": PROMETHEUS,
          "bench": ["matplotlib>=3.7"]}           # bench/charts.py's pictures
for name in TARGETS:
    for path in sorted((ROOT / "backends" / name).glob("requirements*.txt")):
        extra = path.stem.removeprefix("requirements").removeprefix("-") or name
        extras[extra] = _requirements(path)
extras["all"] = sorted({r for name in TARGETS for r in extras.get(name, [])} | set(PROMETHEUS))

setup(
    packages=["ringc", "ringc.ir", "ringc.frontend", "ringc.codegen", "ringc.runtime",
              "ringc.backends", "ringc.templates", "ringc.samples", "ringc.samples.patterns",
              "ringc.docs",
              *(f"ringc.backends.{name}" for name in TARGETS)],
    package_dir={"ringc": "ringc", "ringc.backends": "backends",
                 "ringc.templates": "templates", "ringc.samples": "samples",
                 "ringc.samples.patterns": "samples/patterns", "ringc.docs": "docs"},
    package_data={"ringc": ["py.typed"], "ringc.ir": ["*.lark"], "ringc.templates": ["*.j2"],
                  "ringc.docs": ["*.md", "img/*.png"],
                  **{f"ringc.backends.{name}": ["*.j2", "*.h", "requirements*.txt"]
                     for name in TARGETS}},
    extras_require=extras,
    ext_modules=[Extension("ringc.runtime._rings", ["ringc/runtime/_rings.c"], optional=True)],
)
