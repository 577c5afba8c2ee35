"""The package modules a workflow script imports, transitively: the code inputs of its rule, so
that editing any module a job runs re-runs the job (pitfall 13) and the list cannot drift from the
code (pitfall 18). Computed from the import statements, not from a hand-written list.

The package keeps every import of its own modules at module level (a test checks it), so the
modules imported when a script starts are all the package code the job will ever run in its own
process. A module that starts package modules as processes (`python -m`) names them in a
module-level `STARTED_MODULES = ("telugu_llm....",)`, and their imports count as the job's code too."""

from __future__ import annotations

import functools
import re
from pathlib import Path

PACKAGE = "telugu_llm"
PACKAGE_DIR = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=None)
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


_FROM = re.compile(r"^from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]*(\([^)]*\)|[^\n]*)", re.M)
_IMPORT = re.compile(r"^import[ \t]+([^\n]+)", re.M)
_STARTED = re.compile(r"^STARTED_MODULES[ \t]*=[ \t]*\(([^)]*)\)", re.M)


def imported_names(source: str, current: str | None, is_package: bool) -> list[str]:
    """Dotted names the module-level import statements of `source` may load (relative ones resolved
    against `current`), including `from X import name` as X.name in case `name` is a submodule.
    A line-anchored scan, not a parse: the package imports its own modules at module level only
    (tests/test_house.py), and the scan is an order of magnitude faster than `ast`, which matters
    because the Snakefile computes the code inputs of every rule at every start."""
    names = []
    for dots, module, what in _FROM.findall(source):
        if dots:
            anchor = current.split(".") if is_package else current.split(".")[:-1]
            anchor = anchor[: len(anchor) - (len(dots) - 1)]
            base = ".".join(anchor + ([module] if module else []))
        else:
            base = module
        names.append(base)
        for item in what.strip("()").replace("\\", " ").split(","):
            item = item.split("#")[0].split()
            if item:
                names.append(f"{base}.{item[0]}")
    for what in _IMPORT.findall(source):
        names += [item.split()[0] for item in what.split("#")[0].split(",") if item.strip()]
    for started in _STARTED.findall(source):
        names += re.findall(r"[\"']([\w.]+)[\"']", started)
    return names


def with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


@functools.lru_cache(maxsize=None)
def _imports_of(path: Path, mtime_ns: int, current: str | None, is_package: bool) -> tuple[str, ...]:
    """The names a file imports, parsed once per process and version of the file (every rule of a
    workflow asks for the shared modules again)."""
    return tuple(imported_names(path.read_text(encoding="utf-8"), current, is_package))


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
