"""The import graph docs/architecture.md promises, read from the source with `ast`."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"ringc": ROOT / "ringc", "ringc.backends": ROOT / "backends",
            "ringc.templates": ROOT / "templates"}


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


MODULES = _modules()


def imports_of(module: str) -> set[str]:
    """The ringc modules `module` imports (at any depth of its code)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names
                      if f"{base}.{alias.name}" in MODULES}
    return {name for name in found if name.startswith("ringc")}


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _under(m, "ringc.runtime")))
def test_the_runtime_never_imports_codegen(module):
    assert not any(_under(i, "ringc.codegen") for i in imports_of(module))


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _under(m, "ringc.ir")))
def test_the_ir_imports_nothing_else_of_ringc(module):
    assert all(_under(i, "ringc.ir") for i in imports_of(module))


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _under(m, "ringc.frontend")))
def test_the_frontend_never_imports_codegen_or_targets(module):
    assert not any(_under(i, p) for i in imports_of(module)
                   for p in ("ringc.codegen", "ringc.backends", "ringc.targets"))


def test_the_shared_toolchain_module_imports_no_target():
    """backends/toolchain.py is what every target's toolchain imports: it must not import
    them back, nor the registry that imports them."""
    imported = imports_of("ringc.backends.toolchain")
    targets = {p.parent.name for p in (ROOT / "backends").glob("*/target.py")}
    assert not any(_under(i, f"ringc.backends.{t}") for i in imported for t in targets)
    assert "ringc.targets" not in imported


def test_no_module_outside_a_target_folder_lists_target_names():
    """Only the registry knows the targets, and it learns them from the folders: a
    string naming two targets outside their own folders is a list that will go stale."""
    names = {p.parent.name for p in (ROOT / "backends").glob("*/target.py")}
    pattern = re.compile("[\"'](" + "|".join(sorted(names)) + ")[\"']")
    offenders = []
    for module, path in MODULES.items():
        if any(_under(module, f"ringc.backends.{name}") for name in names):
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if len(set(pattern.findall(line))) >= 2:
                offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert offenders == []
