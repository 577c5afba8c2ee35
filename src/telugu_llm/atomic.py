"""Writing outputs so that a failed or killed job never leaves a half-written one behind: a folder or
file is written under a temporary name beside its target and renamed into place only when complete.
Every JSON file is strict JSON (a NaN, a value that has none, is written as null)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


TMP_MARK = ".tmp-"


def _temporary(path: Path) -> Path:
    """A fresh temporary name beside `path`. Temporaries of an earlier job on the same output (one
    killed with SIGKILL, which no handler sees) carry the same prefix and are removed first, so a
    kill at any moment leaves nothing behind once the job has run again."""
    for stale in path.parent.glob(f".{path.name}{TMP_MARK}*") if path.parent.is_dir() else ():
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


def _child(path) -> Path:
    """`path`, refused unless it names an entry of its own folder: not `.` or `..` (a name made of
    those is its folder or the folder above, which a replace would delete), nor a symbolic link to
    somewhere else."""
    text = os.fspath(path)
    if os.path.basename(text.rstrip("/")) in ("", ".", "..") or ".." in Path(text).parts:
        raise ValueError(f"{text}: the output is not a child of its folder")
    path = Path(text)
    if path.resolve().parent != path.parent.resolve():
        raise ValueError(f"{text}: the output is not a child of its folder (it leads to {path.resolve()})")
    return path


@contextlib.contextmanager
def atomic_directory(path: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory next to `path`; it becomes `path` only if the block
    succeeds, and is removed otherwise."""
    path = _child(path)
    tmp = _temporary(path)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path` to write; it replaces `path` only if the block succeeds."""
    path = _child(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(path)
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def strict_json(value):
    """`value` with every NaN or infinity as null and every other non-JSON value as its string."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):  # a numpy scalar
        return strict_json(value.item())
    return str(value)


def json_text(obj: object) -> str:
    return json.dumps(strict_json(obj), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_text(path: Path, text: str) -> None:
    with atomic_file(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj: object) -> None:
    """Strict JSON, indented, UTF-8 (Telugu as itself, not escaped), written atomically."""
    write_text(path, json_text(obj))
