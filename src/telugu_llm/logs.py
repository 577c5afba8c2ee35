"""Running one workflow step with its log: everything goes to the rule's log file, and a bad-input
error reaches the user as one line rather than a traceback."""

from __future__ import annotations

import contextlib
import errno
import logging
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError
from .redact import redact


FULL_DISK = ("No space left on device", "os error 28", "StorageFull", "Disk quota exceeded")


def disk_full(exc: BaseException) -> bool:
    """A full disk, whoever reports it: an OSError with ENOSPC/EDQUOT, or the text of pyarrow's,
    safetensors' (os error 28) or torch.save's errors, which carry no errno."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return any(text in str(exc) for text in FULL_DISK)


class _Redacting(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _RedactingStream:
    """A text stream (the job's stderr, which libraries write to) that redacts what passes through."""

    def __init__(self, handle):
        self._handle = handle

    def write(self, text: str) -> int:
        self._handle.write(redact(text))
        return len(text)

    def __getattr__(self, name):
        return getattr(self._handle, name)


@contextlib.contextmanager
def logged(log_path: str | Path) -> Iterator[logging.Logger]:
    """Everything the step logs or writes to stderr goes to its log file, secrets redacted
    (telugu_llm.redact); a bad-input error reaches the console as one line, any other error as its
    traceback."""
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    console = sys.stderr
    # line-buffered: every line reaches the file as it is written (nothing is left to flush on a full disk)
    with open(log_path, "w", encoding="utf-8", buffering=1) as handle:
        handler = logging.StreamHandler(handle)
        handler.setFormatter(_Redacting("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        sys.stderr = _RedactingStream(handle)
        try:
            yield logging.getLogger("telugu_llm")
        except InputError as exc:
            message = redact(f"error: {exc}\n")
            handle.write(message)
            console.write(message)
            raise SystemExit(1) from None
        except BaseException as exc:
            if disk_full(exc):
                where = getattr(exc, "filename", None)
                message = (f"error: no space left on the device{f' writing {where}' if where else ''}; "
                           "free some space, or run with the results on a larger disk (--directory)")
                try:
                    handle.write(message + "\n")
                except OSError:
                    pass  # the log is on the full disk too
                console.write(message + "\n")
                raise SystemExit(1) from None
            original = traceback.format_exc()
            text = redact(original)
            handle.write(text)
            console.write(text)
            if text != original:  # Python would print the exception again, secret and all
                raise RuntimeError(redact(f"{type(exc).__name__}: {exc}")) from None
            raise
        finally:
            sys.stderr = console
            root.handlers.clear()
