"""Stable 64-bit row hashes, the split and subset assignment derived from them, and a compact index
of the hashes seen so far (for exact-duplicate removal in a stream).

The pair hash is XXH3-64 (a specified, platform-independent hash) of the UTF-8 bytes of the
normalised text. It decides everything downstream, so it must never change for the same text:
`tests/test_hashing.py` pins reference values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import xxhash

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
# Different salts make the split and the subset order independent functions of the same pair hash.
SPLIT_SALT = np.uint64(0x5EED_0000_5B17_0001)
SUBSET_SALT = np.uint64(0x5EED_0000_5B5E_0002)


def text_hashes(arr: pa.Array) -> np.ndarray:
    """XXH3-64 of each string's UTF-8 bytes, read straight from the Arrow buffers (no copies)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        raise ValueError("cannot hash null strings")
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    offset_type = np.int64 if pa.types.is_large_string(arr.type) or pa.types.is_large_binary(arr.type) else np.int32
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=offset_type, count=arr.offset + n + 1)[arr.offset:]
    return slice_hashes(bufs[2] if bufs[2] is not None else b"", offsets[:-1], offsets[1:])


def slice_hashes(data, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """XXH3-64 of the bytes data[start:end] for each pair (a buffer, bytes or memoryview; no copies)."""
    view = memoryview(data)
    digest = xxhash.xxh3_64_intdigest
    return np.fromiter((digest(view[s:e]) for s, e in zip(starts.tolist(), ends.tolist())), dtype=np.uint64,
                       count=len(starts))


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser (Steele et al. 2014): a bijective mix of 64-bit integers."""
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z += np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z & _MASK


def unit_interval(h: np.ndarray, salt: np.uint64) -> np.ndarray:
    """A uniform number in [0, 1) per hash, a deterministic function of (hash, salt)."""
    return (splitmix64(h ^ salt) >> np.uint64(11)).astype(np.float64) * (2.0**-53)


SPLITS = ("train", "validation", "test")


def assign_splits(h: np.ndarray, validation: float, test: float) -> np.ndarray:
    """0 = train, 1 = validation, 2 = test. A pure function of the pair hash, so one pair is always
    in one split; growing a fraction only moves pairs across the boundary it widens."""
    u = unit_interval(h, SPLIT_SALT)
    out = np.zeros(len(h), dtype=np.int8)
    out[u < test + validation] = 1
    out[u < test] = 2
    return out


def subset_keys(h: np.ndarray, seed: int) -> np.ndarray:
    """The seeded order in which training pairs enter the nested subsets (smallest key first)."""
    seed_mix = splitmix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64) ^ SUBSET_SALT)[0]
    return splitmix64(h ^ seed_mix)


def hex_ids(h: np.ndarray) -> pa.StringArray:
    """16 lower-case hex digits per hash, built without a Python loop."""
    n = len(h)
    raw = np.ascontiguousarray(h, dtype=">u8").tobytes().hex().encode("ascii")
    offsets = np.arange(0, 16 * n + 1, 16, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(raw))


_HEX_VALUE = np.full(256, 255, dtype=np.uint8)
_HEX_VALUE[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)


def ids_to_hashes(ids: pa.Array) -> np.ndarray:
    """Inverse of `hex_ids` (vectorised: the ids' bytes are decoded as one array)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    n = len(ids)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    large = pa.types.is_large_string(ids.type) or pa.types.is_large_binary(ids.type)
    if ids.null_count or not (large or pa.types.is_string(ids.type) or pa.types.is_binary(ids.type)):
        raise ValueError("ids must be non-null strings of 16 hex digits")
    bufs = ids.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64 if large else np.int32, count=ids.offset + n + 1)[ids.offset:]
    digits = np.frombuffer(bufs[2], dtype=np.uint8, count=int(offsets[-1]))[int(offsets[0]):]
    nibbles = _HEX_VALUE[digits]
    if len(digits) != 16 * n or (np.diff(offsets) != 16).any() or (nibbles == 255).any():
        raise ValueError("ids must be strings of 16 lower-case hex digits")
    return ((nibbles[0::2] << 4) | nibbles[1::2]).view(">u8").astype(np.uint64)


class HashIndex:
    """A set of 64-bit hashes kept as a few sorted arrays (8 bytes a hash, no Python objects).

    Levels are merged when one is no bigger than twice the next, so there are O(log n) of them and
    each hash is copied O(log n) times in all."""

    def __init__(self) -> None:
        self._levels: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(level) for level in self._levels)

    @property
    def nbytes(self) -> int:
        return sum(level.nbytes for level in self._levels)

    def contains(self, h: np.ndarray) -> np.ndarray:
        found = np.zeros(len(h), dtype=bool)
        for level in self._levels:
            pos = np.searchsorted(level, h)
            pos[pos == len(level)] = len(level) - 1
            found |= level[pos] == h
        return found

    def add(self, h: np.ndarray) -> None:
        """Add hashes that are distinct from each other and from those already in the index."""
        if len(h) == 0:
            return
        self._levels.append(np.sort(h))
        while len(self._levels) > 1 and len(self._levels[-2]) <= 2 * len(self._levels[-1]):
            top = self._levels.pop()
            self._levels[-1] = np.sort(np.concatenate([self._levels[-1], top]))


def first_occurrences(h: np.ndarray, index: HashIndex) -> np.ndarray:
    """True where a hash is seen for the first time, in this batch and in `index`; adds them to it."""
    keep = np.zeros(len(h), dtype=bool)
    if len(h):
        _, first = np.unique(h, return_index=True)
        keep[first] = True
        keep &= ~index.contains(h)
        index.add(h[keep])
    return keep
