"""Text normalisation shared by the datasets.

Every text is NFC-normalised (Telugu vowel signs and nuktas have several code-point spellings that
render alike; NFC makes exact-duplicate detection and tokenizer statistics agree with what a reader
sees). Control characters are removed because they carry no text and would make the pair hash
ambiguous. Zero-width (non-)joiners are kept: they change how Telugu renders.

The vectorised path normalises only the rows that need it: a row without any character whose NFC
quick-check value is No or Maybe, and without two combining marks in a row, is already in NFC
(UAX #15, "Detecting Normalization Forms"); detecting that is ten times cheaper than normalising.
One scan of the text finds the rows that may need NFC, those that may need their spacing fixed, and
any rows a caller asks about (`normalize_and_flag`); only those rows are looked at again.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .unicode_tables import NFC_SUSPECT_PATTERN, UNIDATA_VERSION

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


# Planes 0-3 and 14: Unicode assigns nothing in planes 4-13, and planes 15-16 hold only private-use
# characters (no decomposition, combining class 0), so scanning these is the same as scanning all
# 1.1 million code points, four times faster.
_CODE_POINTS_WITH_PROPERTIES = (*range(0x40000), *range(0xE0000, 0xE1000))


@functools.cache
def nfc_suspect_pattern(fresh: bool = False) -> str:
    """An RE2 pattern that matches every string that is not in NFC (and a few that are).

    Built from this Python's Unicode database: characters that are not NFC on their own (quick check
    No), characters that can compose with the one before them (quick check Maybe), and adjacent
    combining marks (whose canonical order may be wrong). The precomputed pattern (`unicode_tables`)
    serves where this Python's Unicode database is the one it was built from."""
    if not fresh and unicodedata.unidata_version == UNIDATA_VERSION:
        return NFC_SUSPECT_PATTERN
    not_nfc: set[int] = set()
    combining: set[int] = set()
    for cp in _CODE_POINTS_WITH_PROPERTIES:
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
    return normalize_and_flag(arr, None)[0]


def normalize_and_flag(arr: pa.Array, chars: str | None) -> tuple[pa.Array, np.ndarray]:
    """`normalize_lines`, and per row whether the normalised text holds a character that the RE2
    pattern `chars` matches (all False without one). `chars` must match single characters and no
    printable ASCII one (checked).

    One scan of the whole text: a row that holds no NFC suspect, no spacing suspect and none of
    `chars` is left as it is and is not flagged; only the rows that do are scanned again, each
    question on its own. Where most rows are ASCII, the ASCII ones are checked with numpy on their
    bytes (in ASCII only control characters and spaces at the ends or in pairs are suspects) and
    only the others by the regular expression."""
    if chars and _matches_printable_ascii(chars):
        raise ValueError(f"{chars!r} matches printable ASCII characters")
    arr = pc.utf8_rtrim(arr, characters="\r\n")
    flagged = np.zeros(len(arr), dtype=bool)
    hit = _suspect_rows(arr, "|".join([nfc_suspect_pattern(), _SPACE_SUSPECT] + ([chars] if chars else [])))
    if not hit.any():
        return arr, flagged
    mask = pa.array(hit)
    rows = arr.filter(mask)
    rows = _fix_where(rows, nfc_suspect_pattern(), lambda a: pc.utf8_normalize(a, form="NFC"))
    rows = _fix_where(
        rows, _SPACE_SUSPECT,
        lambda a: pc.utf8_trim(pc.replace_substring_regex(a, pattern=_SPACE_RUN, replacement=" "), characters=" "),
    )
    if chars:
        flagged[hit] = pc.match_substring_regex(rows, pattern=chars).to_numpy(zero_copy_only=False)
    return pc.replace_with_mask(arr, mask, rows), flagged


@functools.cache
def _matches_printable_ascii(pattern: str) -> bool:
    return any(pc.match_substring_regex(pa.array([chr(c) for c in range(32, 127)]), pattern=pattern).to_pylist())


def _suspect_rows(arr: pa.Array, pattern: str) -> np.ndarray:
    """Rows that `pattern` (suspects that match no printable ASCII character) may match."""
    is_ascii = pc.string_is_ascii(arr).to_numpy(zero_copy_only=False)
    if 2 * is_ascii.sum() < len(arr) or not pa.types.is_string(arr.type):
        return pc.match_substring_regex(arr, pattern=pattern).to_numpy(zero_copy_only=False)
    hit = _ascii_spacing_suspects(arr)
    others = np.flatnonzero(~is_ascii)
    if len(others):
        hit[others] = pc.match_substring_regex(arr.take(others), pattern=pattern).to_numpy(zero_copy_only=False)
    return hit


def _ascii_spacing_suspects(arr: pa.Array) -> np.ndarray:
    """Per row, exact for rows of ASCII text: a control character, two spaces in a row, or a space
    at either end."""
    n = len(arr)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int32, count=arr.offset + n + 1)[arr.offset:].astype(np.int64)
    first, last = int(offsets[0]), int(offsets[-1])
    offsets -= first
    data = np.frombuffer(bufs[2], dtype=np.uint8, count=last)[first:] if last else np.zeros(0, np.uint8)
    space = data == 32
    at = np.flatnonzero((data < 32) | (data == 127) | np.concatenate([space[1:] & space[:-1], [False]]))
    hit = np.zeros(n, dtype=bool)
    hit[np.searchsorted(offsets, at, side="right") - 1] = True
    filled = np.flatnonzero(offsets[1:] > offsets[:-1])
    hit[filled] |= space[offsets[filled]] | space[offsets[filled + 1] - 1]
    return hit


def clip(text: str, limit: int = 200) -> str:
    """A text shortened for an example in a report or log (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[:limit] + "…"


def normalize_turn(text: str) -> str:
    """NFC for one conversation turn; keeps newlines and tabs (answers hold code and lists)."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_EXCEPT_NEWLINE_TAB.sub("", text).strip()
