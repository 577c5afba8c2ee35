import random
import unicodedata

import pyarrow as pa

from telugu_llm.data.text import normalize_lines, normalize_turn

TRICKY = [
    "a", "b", " ", "  ", "\t", "\n", "\r", "\x00", "\x1f", "\x85", "\u00a0", "\u2028", "\u3000", "\ufeff",
    "\u200c", "\u200d", "e", "\u0301", "\u0323", "\u00e9", "\u212b", "A", "\u030a",
    "\u0c15", "\u0c4d", "\u0c37", "\u0c46", "\u0c56", "\u0c48", "\u0c3c", "\u0c55",
    "\u0915", "\u093c", "\u0929", "\u1100", "\u1161", "\u11a8", "\uac00", "\U0001d15e", "\u2126",
]


def reference(text: str) -> str:
    text = unicodedata.normalize("NFC", text.rstrip("\r\n"))
    out, space = [], False
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Zs", "Zl", "Zp") or ch == "\ufeff":
            space = True
            continue
        if space and out:
            out.append(" ")
        space = False
        out.append(ch)
    return "".join(out)


def test_normalize_lines_matches_reference_on_random_strings():
    rng = random.Random(0)
    texts = ["".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 12))) for _ in range(5000)]
    got = normalize_lines(pa.array(texts)).to_pylist()
    for text, out in zip(texts, got):
        assert out == reference(text), (text, out)
        assert unicodedata.is_normalized("NFC", out)


def test_telugu_composition_and_joiners():
    # ె + ౖ (two code points) is the same letter as ై (one): NFC makes them equal
    decomposed, composed = "\u0c15\u0c46\u0c56", "\u0c15\u0c48"
    assert normalize_lines(pa.array([decomposed])).to_pylist() == [composed]
    # the zero-width non-joiner changes how Telugu renders and must survive
    assert normalize_lines(pa.array(["హైదరాబాద్\u200cలో"])).to_pylist() == ["హైదరాబాద్\u200cలో"]


def test_line_whitespace_and_controls():
    got = normalize_lines(pa.array(["  a\u00a0\tb\r\n", "\ufeffx\x1fy", "   ", "ok"])).to_pylist()
    assert got == ["a b", "x y", "", "ok"]


def test_normalize_turn_keeps_newlines_and_removes_controls():
    assert normalize_turn("  line one\r\n\tline\x07 two\u0c46\u0c56  ") == "line one\n\tline two\u0c48"
