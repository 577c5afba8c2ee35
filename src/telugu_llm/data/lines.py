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

from ..errors import InputError

_BLOCK = 1 << 24


def check_line_endings(path: Path, codes: np.ndarray, newlines: int) -> None:
    """A file whose lines end in a lone CR (classic Mac OS) would read as one line: say so. Judged on
    the first block: more lone CRs (not followed by LF) than LFs."""
    cr = np.flatnonzero(codes[:-1] == 13)  # a CR ending the block may be followed by an LF in the next one
    lone = int(np.count_nonzero(codes[cr + 1] != 10))
    if lone and lone > newlines:
        raise InputError(f"{path}: lines end in a lone CR (old Mac line endings: {lone} CR and {newlines} LF in the "
                         "first block); convert them to LF, e.g. with `tr '\\r' '\\n'`")


class LineReader:
    """Blocks read from the file wait in a list; a batch of lines joins them once (the only copy)
    and is handed to Arrow as it is; what is left after its last line stays as a view."""

    def __init__(self, path: Path, block_bytes: int = _BLOCK):
        self.path = Path(path)
        try:
            self._file = open(self.path, "rb")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot be read ({exc.strerror or exc})") from None
        self._block = block_bytes
        self._chunks: list = []  # bytes or memoryview, in file order
        self._pending = 0  # bytes in _chunks
        self._newlines = np.empty(0, dtype=np.int64)  # positions of b"\n" in the pending bytes
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
        codes = np.frombuffer(block, dtype=np.uint8)
        found = np.flatnonzero(codes == 10) + self._pending
        if not self._pending:
            check_line_endings(self.path, codes, len(found))
        self._chunks.append(block)
        self._pending += len(block)
        self._newlines = np.concatenate([self._newlines, found])
        return True

    def take(self, n: int) -> pa.BinaryArray:
        """The next `n` lines (fewer at the end of the file), each with its line terminator."""
        while len(self._newlines) < n and not self._eof:
            self._fill()
        ends = self._newlines[:n] + 1
        if len(ends) < n and self._eof and self._pending > (ends[-1] if len(ends) else 0):
            ends = np.append(ends, self._pending)  # a last line without b"\n"
        count = len(ends)
        end = int(ends[-1]) if count else 0
        if end >= 2**31:
            raise ValueError(f"{self.path}: {n} lines exceed 2 GiB; use fewer rows per shard")
        if len(self._chunks) == 1:
            data = self._chunks[0]
        else:
            data = b"".join(self._chunks)
        offsets = np.concatenate([[0], ends]).astype(np.int32)
        arr = pa.BinaryArray.from_buffers(pa.binary(), count, [None, pa.py_buffer(offsets.tobytes()),
                                                               pa.py_buffer(data)])
        rest = memoryview(data)[end:]
        self._chunks = [rest] if len(rest) else []
        self._pending = len(rest)
        self._newlines = self._newlines[len(self._newlines[:n]):] - end
        self.lines_read += count
        return arr

    def count_rest(self) -> int:
        """Read to the end and return the total number of lines in the file."""
        total = self.lines_read + len(self._newlines)
        tail = self._pending - (int(self._newlines[-1]) + 1 if len(self._newlines) else 0)
        while True:
            block = self._file.read(self._block)
            if not block:
                break
            total += block.count(b"\n")
            tail = len(block) - 1 - block.rfind(b"\n") if b"\n" in block else tail + len(block)
        return total + (1 if tail > 0 else 0)
