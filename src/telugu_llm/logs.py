"""Running one workflow step with its log: everything goes to the rule's log file, and a bad-input
error reaches the user as one line rather than a traceback."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError


@contextlib.contextmanager
def logged(log_path: str | Path) -> Iterator[logging.Logger]:
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    console = sys.stderr
    with open(log_path, "w", encoding="utf-8") as handle:
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        sys.stderr = handle
        try:
            yield logging.getLogger("telugu_llm")
        except InputError as exc:
            handle.write(f"error: {exc}\n")
            console.write(f"error: {exc}\n")
            raise SystemExit(1) from None
        except BaseException:
            text = traceback.format_exc()
            handle.write(text)
            console.write(text)
            raise
        finally:
            sys.stderr = console
            root.handlers.clear()
