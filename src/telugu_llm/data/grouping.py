"""Leak-free splits: pairs that share a side go to one split.

Samanantar merges many mined sources, so the same English sentence recurs with another translation
and the same target sentence with another English side. Split by the hash of the pair alone, such
pairs land in train and in test, and test scores reward memorisation. So pairs are grouped: two
pairs that share a normalised English side, or a normalised target side, are in one group, and so
are the pairs they are grouped with (connected components: A shares its English side with B, B its
target side with C, so A, B and C are one group). A whole group goes to one split.

The grouping key of a side (`KEY_NAME`) is the side as the data stage writes it (NFC, whitespace
collapsed), case-folded (Python's `str.casefold`, Unicode full case folding: "Straße" and "STRASSE"
agree), with every character removed that is not a letter, a mark or a number (Unicode general
categories L, M and N, as RE2 knows them). Why these: the mined sources spell one sentence in
several ways that a reader takes for the same sentence (a title in capitals, straight or curly
quotes, a final full stop or none, spaces around punctuation, and in Telugu a zero-width
non-joiner after a virama or not, which changes only how a conjunct is drawn: జూన్‌లో, జూన్లో);
removing punctuation, spaces and format characters (Cf: ZWNJ, ZWJ, bidi marks) makes all of those
one key. Marks stay because in Indic scripts the vowel signs and the virama are marks and tell
words apart (రాము, రము); numbers stay because "5 people" and "6 people" are different sentences.
NFC first means the same letter typed as one or as two code points is one key. A side with no
letter, mark or number at all (such as "...") keys as itself, so such sides group only when they
are equal, not all together. The key is hashed to 64 bits (XXH3); a collision could only merge two
groups, never split one.

The split of a group (`RULE_NAME`) is a pure function of its members: a pair that shares no side
keeps the split of its own pair hash (`hashing.assign_splits`), so the splits of a corpus without
shared sides are those of the pair hash alone; a group of several pairs takes the split of its
member with the smallest pair hash. Neither depends on the order of the input or on shard sizes.

Two ways to the same key: most texts hold only ASCII and letters, marks and numbers that case
folding leaves alone (a Telugu sentence with ASCII spaces, digits and punctuation), and for them
one `bytes.translate` (ASCII lower-cased, other ASCII deleted) is the key; a text with any other
character (`exact_path_pattern`, found in the same scan that normalises the text) is case-folded
in Python and stripped by RE2.

Memory: three 64-bit hashes per pair (pair, English key, target key) in numpy arrays; the
components are found by vectorised label propagation over the pairs that share a key, so no Python
object is made per pair.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from .hashing import assign_splits, text_hashes
from .unicode_tables import EXACT_PATH_PATTERN, PYARROW_VERSION, UNIDATA_VERSION

KEY_NAME = "nfc-casefold-letters-marks-numbers/1"
RULE_NAME = "shared-side-components/singleton-pair-hash/group-smallest-pair-hash/1"

_NOT_KEPT_RUN = r"[^\p{L}\p{M}\p{N}]+"
# The byte-level path: ASCII letters case-folded (lower-cased), every other ASCII byte but digits
# deleted. Safe on UTF-8 because no byte of a multi-byte character is ASCII.
_ASCII_LOWER = bytes(c + 32 if 65 <= c <= 90 else c for c in range(256))
_ASCII_DELETE = bytes(c for c in range(128) if not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122))


def _class_of(code_points: np.ndarray) -> str:
    """An RE2 character class body (no brackets) of sorted code points, as ranges."""
    if not len(code_points):
        return ""
    breaks = np.flatnonzero(np.diff(code_points) != 1)
    firsts = np.concatenate([code_points[:1], code_points[breaks + 1]])
    lasts = np.concatenate([code_points[breaks], code_points[-1:]])
    return "".join(f"\\x{{{a:X}}}" + (f"-\\x{{{b:X}}}" if b > a else "") for a, b in zip(firsts.tolist(), lasts.tolist()))


@functools.cache
def exact_path_pattern(fresh: bool = False) -> str:
    """An RE2 pattern that matches every text the byte-level path cannot key: a text with any
    character other than ASCII and the characters of the Basic Multilingual Plane that
    `str.casefold` leaves as they are and RE2 counts as a letter, mark or number. Those are decided
    by the very functions of the exact path, so both paths give the same key to every text that the
    byte-level path accepts. The precomputed pattern (`unicode_tables`) serves where it is valid."""
    if not fresh and (unicodedata.unidata_version, pa.__version__) == (UNIDATA_VERSION, PYARROW_VERSION):
        return EXACT_PATH_PATTERN
    cps = np.array([c for c in range(0x80, 0x10000) if not 0xD800 <= c <= 0xDFFF], dtype=np.int64)
    data = "".join(map(chr, cps.tolist())).encode("utf-8")
    offsets = np.concatenate([[0], np.cumsum(np.where(cps < 0x800, 2, 3))]).astype(np.int32)
    chars = pa.StringArray.from_buffers(len(cps), pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))
    same = np.array([chr(c).casefold() == chr(c) for c in cps.tolist()])
    kept = pc.match_substring_regex(chars, pattern=r"^[\p{L}\p{M}\p{N}]$").to_numpy(zero_copy_only=False)
    return f"[^\\x{{0}}-\\x{{7F}}{_class_of(cps[same & kept])}]"


def exact_keys(arr: pa.Array) -> pa.Array:
    """The grouping key of each text (module docstring): case-folded in Python (one call a row),
    then stripped by RE2."""
    folded = pa.array([text.casefold() for text in arr.to_pylist()], pa.string())
    key = pc.replace_substring_regex(folded, pattern=_NOT_KEPT_RUN, replacement="")
    return pc.if_else(pc.equal(pc.binary_length(key), 0), arr, key)


def _byte_level_key_hashes(arr: pa.Array) -> np.ndarray:
    """Key hashes of texts that `exact_path_pattern` does not match: per row one `bytes.translate`
    (ASCII letters lower-cased, other ASCII deleted; other bytes kept) and one hash."""
    n = len(arr)
    large = pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64 if large else np.int32, count=arr.offset + n + 1)[arr.offset:]
    first, last = int(offsets[0]), int(offsets[-1])
    raw = bytes(memoryview(bufs[2])[first:last]) if last > first else b""
    starts, ends = (offsets[:-1] - first).tolist(), (offsets[1:] - first).tolist()
    digest, lower, delete = xxhash.xxh3_64_intdigest, _ASCII_LOWER, _ASCII_DELETE
    # a text with nothing left (only ASCII punctuation) keys as itself
    return np.fromiter((digest(raw[s:e].translate(lower, delete) or raw[s:e]) for s, e in zip(starts, ends)),
                       dtype=np.uint64, count=n)


def key_hashes(arr: pa.Array, exact: np.ndarray | None = None) -> np.ndarray:
    """XXH3-64 of each text's grouping key. `exact` marks the rows that match `exact_path_pattern()`
    (as `text.normalize_and_flag` reports them); None checks here. The other rows take the
    byte-level path, which gives the same key and is several times faster."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if len(arr) == 0:
        return np.zeros(0, dtype=np.uint64)
    if exact is None:
        exact = pc.match_substring_regex(arr, pattern=exact_path_pattern()).to_numpy(zero_copy_only=False)
    exact = np.asarray(exact, dtype=bool)
    rows = np.flatnonzero(exact)
    if len(rows) == len(arr):
        return text_hashes(exact_keys(arr))
    out = _byte_level_key_hashes(arr)  # every row (cheaper than selecting), then the exact ones overwritten
    if len(rows):
        out[rows] = text_hashes(exact_keys(arr.take(rows)))
    return out


def _groups_of(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, starts, group): the rows sorted by key, where each run of one key starts in that
    order, and each row's run number."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    group = np.empty(len(keys), dtype=np.int64)
    group[order] = np.cumsum(first) - 1
    return order, np.flatnonzero(first), group


def _shares_a_key(keys: np.ndarray) -> np.ndarray:
    """Per row: does another row have the same key? (A sort, then a binary search among the few keys
    that occur more than once.)"""
    sorted_keys = np.sort(keys)
    repeated = np.unique(sorted_keys[1:][sorted_keys[1:] == sorted_keys[:-1]])
    del sorted_keys
    if not len(repeated):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(repeated, keys), len(repeated) - 1)
    return repeated[at] == keys


def shared_side_components(src_keys: np.ndarray, tgt_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(members, component): the rows that share their English or their target key with another row
    (sorted), and for each the smallest position in `members` of its connected component.

    Label propagation on numpy arrays: every member starts as its own label; each round gives every
    member the smallest label among the rows that share its English key, then its target key, and
    then follows labels to their labels until nothing changes (pointer jumping). A label always
    points to a member of the same component with a smaller or equal position, so the fixpoint
    labels every component by its smallest member."""
    members = np.flatnonzero(_shares_a_key(src_keys) | _shares_a_key(tgt_keys))
    label = np.arange(len(members), dtype=np.int64)
    if not len(members):
        return members, label
    sides = [_groups_of(keys[members]) for keys in (src_keys, tgt_keys)]
    while True:
        before = label
        for order, starts, group in sides:
            label = np.minimum(label, np.minimum.reduceat(label[order], starts)[group])
        while True:
            jumped = label[label]
            if np.array_equal(jumped, label):
                break
            label = jumped
        if np.array_equal(label, before):
            return members, label


def group_splits(pair_hashes: np.ndarray, src_keys: np.ndarray, tgt_keys: np.ndarray, validation: float,
                 test: float) -> tuple[np.ndarray, dict]:
    """The split of each pair (0 train, 1 validation, 2 test; as `hashing.assign_splits`) under the
    rule of the module docstring, and the overlap counts: `groups` (groups of more than one pair),
    `pairs_in_groups`, `moved` (pairs whose split is not that of their own pair hash) and
    `largest_group` (one group goes to one split: a very large one skews the split shares)."""
    split = assign_splits(pair_hashes, validation, test)
    members, component = shared_side_components(src_keys, tgt_keys)
    overlap = {"groups": 0, "pairs_in_groups": int(len(members)), "moved": 0, "largest_group": 1 if len(split) else 0}
    if len(members):
        order, starts, group = _groups_of(component)
        smallest = np.minimum.reduceat(pair_hashes[members][order], starts)
        wanted = assign_splits(smallest, validation, test)[group]
        overlap["groups"] = int(len(starts))
        overlap["largest_group"] = int(np.diff(np.append(starts, len(order))).max())
        overlap["moved"] = int((wanted != split[members]).sum())
        split[members] = wanted
    return split, overlap
