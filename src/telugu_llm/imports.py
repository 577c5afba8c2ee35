"""The package modules a workflow script imports, transitively: the code inputs of its rule, so
that editing any module a job runs re-runs the job (pitfall 13) and the list cannot drift from the
code (pitfall 18). Computed from the import statements, not from a hand-written list.

The package keeps every import of its own modules at module level (a test checks it), so the
modules imported when a script starts are all the package code the job will ever run."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = "telugu_llm"
PACKAGE_DIR = Path(__file__).resolve().parent


def module_file(name: str) -> Path | None:
    """The file of a dotted module name of the package (a package's __init__.py), or None."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def module_name(path: Path) -> str:
    rel = Path(path).resolve().relative_to(PACKAGE_DIR.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.AST, current: str | None, is_package: bool) -> list[str]:
    """Dotted names a module's import statements may load (relative ones resolved against
    `current`), including `from X import name` as X.name in case `name` is a submodule."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = current.split(".") if is_package else current.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names.append(base)
            names += [f"{base}.{alias.name}" for alias in node.names]
    return names


def with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@functools.lru_cache(maxsize=None)
def _imports_of(path: Path, mtime_ns: int, current: str | None, is_package: bool) -> tuple[str, ...]:
    """The names a file imports, parsed once per process and version of the file (every rule of a
    workflow asks for the shared modules again)."""
    return tuple(imported_names(ast.parse(path.read_text(encoding="utf-8")), current, is_package))


def _imports(path: Path, current: str | None, is_package: bool) -> list[str]:
    return list(_imports_of(path, path.stat().st_mtime_ns, current, is_package))


def package_modules(script: Path) -> list[Path]:
    """Every package file that running `script` imports, directly or through other modules, sorted."""
    seen: dict[str, Path] = {}
    todo = _imports(Path(script), None, False)
    while todo:
        name = todo.pop()
        for parent in with_parents(name):
            path = module_file(parent)
            if path is None or parent in seen:
                continue
            seen[parent] = path
            todo += _imports(path, parent, path.name == "__init__.py")
    return sorted(seen.values())
