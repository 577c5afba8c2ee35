"""Reading a text file as Arrow arrays of whole lines, a fixed number at a time.

Lines are found with numpy in large blocks of bytes and handed to Arrow as one buffer, so no
Python object is made per line; that keeps the data stage close to the cost of reading the file.
A line is what `for line in open(path, "rb")` yields: it ends at b"\\n" (a final line without one
still counts).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

_BLOCK = 1 << 24


class LineReader:
    def __init__(self, path: Path, block_bytes: int = _BLOCK):
        self.path = Path(path)
        self._file = open(self.path, "rb")
        self._block = block_bytes
        self._buf = b""
        self._newlines = np.empty(0, dtype=np.int64)  # positions of b"\n" in _buf
        self._eof = False
        self.lines_read = 0

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> LineReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fill(self) -> bool:
        block = self._file.read(self._block)
        if not block:
            self._eof = True
            return False
        found = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + len(self._buf)
        self._buf += block
        self._newlines = np.concatenate([self._newlines, found])
        return True

    def take(self, n: int) -> pa.BinaryArray:
        """The next `n` lines (fewer at the end of the file), each with its line terminator."""
        while len(self._newlines) < n and not self._eof:
            self._fill()
        ends = self._newlines[:n] + 1
        if len(ends) < n and self._eof and len(self._buf) > (ends[-1] if len(ends) else 0):
            ends = np.append(ends, len(self._buf))  # a last line without b"\n"
        count = len(ends)
        end = int(ends[-1]) if count else 0
        if end >= 2**31:
            raise ValueError(f"{self.path}: {n} lines exceed 2 GiB; use fewer rows per shard")
        offsets = np.concatenate([[0], ends]).astype(np.int32)
        arr = pa.BinaryArray.from_buffers(pa.binary(), count, [None, pa.py_buffer(offsets.tobytes()),
                                                               pa.py_buffer(self._buf[:end])])
        self._buf = self._buf[end:]
        self._newlines = self._newlines[len(self._newlines[:n]):] - end
        self.lines_read += count
        return arr

    def count_rest(self) -> int:
        """Read to the end and return the total number of lines in the file."""
        total = self.lines_read + len(self._newlines)
        tail = len(self._buf) - (int(self._newlines[-1]) + 1 if len(self._newlines) else 0)
        while True:
            block = self._file.read(self._block)
            if not block:
                break
            total += block.count(b"\n")
            tail = len(block) - 1 - block.rfind(b"\n") if b"\n" in block else tail + len(block)
        return total + (1 if tail > 0 else 0)
