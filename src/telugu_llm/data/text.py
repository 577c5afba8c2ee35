"""Text normalisation shared by the datasets.

Every text is NFC-normalised (Telugu vowel signs and nuktas have several code-point spellings that
render alike; NFC makes exact-duplicate detection and tokenizer statistics agree with what a reader
sees). Control characters are removed because they carry no text and would make the pair hash
ambiguous. Zero-width (non-)joiners are kept: they change how Telugu renders.

The vectorised path normalises only the rows that need it: a row without any character whose NFC
quick-check value is No or Maybe, and without two combining marks in a row, is already in NFC
(UAX #15, "Detecting Normalization Forms"); detecting that is ten times cheaper than normalising.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

import pyarrow as pa
import pyarrow.compute as pc

# Runs of control characters, Unicode separators and a stray byte-order mark become one space.
_SPACE_RUN = r"[\p{Cc}\p{Z}\x{FEFF}]+"
# Rows that _SPACE_RUN or trimming would change (a lone ASCII space inside a row is already fine).
_SPACE_SUSPECT = (
    r"[\x{00}-\x{1F}\x{7F}-\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]"
    r"|  |^ | $"
)
_CONTROL_EXCEPT_NEWLINE_TAB = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff]")


def _ranges_class(code_points: set[int]) -> str:
    cps = sorted(code_points)
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        parts.append(f"\\x{{{cps[i]:X}}}" + (f"-\\x{{{cps[j]:X}}}" if j > i else ""))
        i = j + 1
    return "[" + "".join(parts) + "]"


@functools.cache
def nfc_suspect_pattern() -> str:
    """An RE2 pattern that matches every string that is not in NFC (and a few that are).

    Built from this Python's Unicode database: characters that are not NFC on their own (quick check
    No), characters that can compose with the one before them (quick check Maybe), and adjacent
    combining marks (whose canonical order may be wrong)."""
    not_nfc: set[int] = set()
    combining: set[int] = set()
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if unicodedata.combining(ch):
            combining.add(cp)
        if not unicodedata.is_normalized("NFC", ch):
            not_nfc.add(cp)
        decomposition = unicodedata.decomposition(ch)
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                not_nfc.add(int(parts[1], 16))
    not_nfc |= set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul vowel and final jamo
    comb = _ranges_class(combining)
    return f"{_ranges_class(not_nfc)}|{comb}{comb}"


def _fix_where(arr: pa.Array, pattern: str, fix) -> pa.Array:
    need = pc.match_substring_regex(arr, pattern=pattern)
    if not pc.any(need).as_py():
        return arr
    return pc.replace_with_mask(arr, need, fix(arr.filter(need)))


def normalize_lines(arr: pa.Array) -> pa.Array:
    """NFC, runs of whitespace and control characters collapsed to one space, trimmed (vectorised,
    for one-line sentences). Line terminators are removed."""
    arr = pc.utf8_rtrim(arr, characters="\r\n")
    arr = _fix_where(arr, nfc_suspect_pattern(), lambda a: pc.utf8_normalize(a, form="NFC"))
    return _fix_where(
        arr, _SPACE_SUSPECT,
        lambda a: pc.utf8_trim(pc.replace_substring_regex(a, pattern=_SPACE_RUN, replacement=" "), characters=" "),
    )


def clip(text: str, limit: int = 200) -> str:
    """A text shortened for an example in a report or log (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[:limit] + "…"


def normalize_turn(text: str) -> str:
    """NFC for one conversation turn; keeps newlines and tabs (answers hold code and lists)."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_EXCEPT_NEWLINE_TAB.sub("", text).strip()
