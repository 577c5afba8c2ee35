import random

import pytest

from telugu_llm.data.lines import LineReader

PIECES = [b"a", b"bb\n", b"\n", b"ccc", b"\r\n", "తెలుగు".encode(), b"\xff"]


@pytest.mark.parametrize("seed", range(40))
def test_line_reader_equals_python_line_iteration(tmp_path, seed):
    rng = random.Random(seed)
    data = b"".join(rng.choice(PIECES) for _ in range(rng.randint(0, 60)))
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    expected = list(open(path, "rb"))
    for n in (1, 3, 100):
        for block in (1, 4, 1 << 20):
            reader = LineReader(path, block_bytes=block)
            got = []
            while batch := reader.take(n).to_pylist():
                assert len(batch) <= n
                got += batch
            assert got == expected
            reader.close()
    reader = LineReader(path, block_bytes=3)
    reader.take(rng.randint(0, 4))
    assert reader.count_rest() == len(expected)
    reader.close()
