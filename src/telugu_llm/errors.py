"""One exception type for every problem with the user's input, so that scripts and the Snakefile can
print its message alone instead of a traceback."""

import os
from pathlib import Path


class InputError(Exception):
    """Bad input (a file, a line, a config key): the message names it and says what to do."""


def readable(key: str, path: Path) -> None:
    """One error naming config key `key` where `path` exists but cannot be read."""
    if not os.access(path, os.R_OK):
        raise InputError(f"config key {key}: {path} cannot be read (permission denied)")
