"""The seeded order of evaluation items, and what each evaluation takes from it.

Which items fit is known only per model: a prompt's length is its tokenizer's (a Telugu word is
about 20 Llama-2 tokens, and about 2 under an extended tokenizer). So the sets rule, which knows no
model, does not draw `max_items`: it writes up to `max_candidates` items of each (set, task,
language) with their `rank` in a seeded order, and the evaluation of a model takes, in that order,
the first `max_items` whose prompt fits `evaluation.max_prompt_tokens` under its tokenizer, counting
the ones it passed over (`first_that_fit`). Runs that share a tokenizer (a base model and its
adapters) take the same items; a larger `max_items` takes a superset of a smaller one's.

The order spreads over units before it repeats one: a unit is an item's context for extractive QA
(the questions of one passage are not independent), else the item itself. Units are ordered by a
keyed hash (`priority`), the items of a unit by the hash of their id, and the order takes the first
item of every unit, then the second, and so on (`ranked`).

A hub set with `truncate` may instead cut a document (passage) that does not fit to its longest
head that does (`head_that_fits`): a deviation from the benchmark, counted and marked.

A hub split is sampled across the whole split, streamed (`UnitSample`): the units with the
smallest priorities whose rows together are at most `hub_max_rows`, a function of the split and
the seed only (not of the order the rows arrive in), in memory bounded by the rows kept.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable

import xxhash


def priority(key: str, seed: int) -> int:
    """The place of `key` in the seeded order (a keyed 64-bit hash)."""
    return xxhash.xxh3_64_intdigest(key.encode("utf-8"), seed=seed)


def unit_of(item: dict) -> str:
    """The unit an item is drawn with: its context for extractive QA, else the item itself."""
    return item.get("unit") or f"id:{item['id']}"


def ranked(items: list[dict], seed: int) -> list[dict]:
    """The items of one (set, task, lang) in the seeded order, spread over units: every unit's first
    item (units by priority), then every unit's second, and so on. Each item gets its `rank`."""
    units: dict[str, list[dict]] = {}
    for item in items:
        units.setdefault(unit_of(item), []).append(item)
    keyed = []
    for unit, members in units.items():
        members = sorted(members, key=lambda it: (priority(it["id"], seed), it["id"]))
        keyed += [((depth, priority(unit, seed), unit), item) for depth, item in enumerate(members)]
    keyed.sort(key=lambda pair: pair[0])
    return [{**item, "rank": rank} for rank, (_, item) in enumerate(keyed)]


class UnitSample:
    """A seeded sample of a streamed split by unit: the units of smallest priority whose rows total
    at most `max_rows`. A unit whose rows would take the total past `max_rows` is evicted with
    every unit above it; a unit at or above the lowest priority evicted is never admitted again,
    so the result is the longest prefix of units (by priority) within `max_rows`, however the rows
    are ordered. Counts what was read and kept."""

    def __init__(self, max_rows: int, seed: int):
        self.max_rows, self.seed = max_rows, seed
        self.units: dict[str, list] = {}  # unit -> [(row number, row)]
        self.heap: list[tuple[int, str]] = []  # (-priority, unit): the highest priority on top
        self.kept_rows = 0
        self.ceiling: int | None = None  # units at or above it are out
        self.rows_read = 0
        self.units_read: set[int] = set()

    def add(self, unit: str, number: int, row) -> None:
        self.rows_read += 1
        p = priority(unit, self.seed)
        self.units_read.add(p)
        if self.ceiling is not None and p >= self.ceiling:
            return
        if unit not in self.units:
            self.units[unit] = []
            heapq.heappush(self.heap, (-p, unit))
        self.units[unit].append((number, row))
        self.kept_rows += 1
        while self.kept_rows > self.max_rows:
            neg, top = heapq.heappop(self.heap)
            self.kept_rows -= len(self.units.pop(top))
            self.ceiling = -neg if self.ceiling is None else min(self.ceiling, -neg)

    def rows(self) -> list[tuple[int, object]]:
        """(row number in the split, row) of every row kept, in split order."""
        return sorted((pair for rows in self.units.values() for pair in rows), key=lambda pair: pair[0])

    def counts(self) -> dict:
        return {"rows_read": self.rows_read, "rows_kept": self.kept_rows, "units_read": len(self.units_read),
                "units_kept": len(self.units), "max_rows": self.max_rows}


def first_that_fit(items: list[dict], limit: int | None, encode: Callable[[dict], list], max_tokens: int):
    """The first `limit` items (all, for None) of an ordered group whose encoding (`encode`) is at
    most `max_tokens` long, as (item, encoding), and how many were passed over on the way. Items
    after the last one taken are not encoded."""
    taken, passed_over = [], 0
    for item in items:
        if limit is not None and len(taken) == limit:
            break
        ids = encode(item)
        if len(ids) > max_tokens:
            passed_over += 1
            continue
        taken.append((item, ids))
    return taken, passed_over


def head_that_fits(instruction: str, text: str, encode: Callable[[str], list], max_tokens: int,
                   keep: list[str] = ()) -> tuple[str, list] | None:
    """`instruction` with `text` (which it holds) cut at a word boundary to its longest head whose
    encoding is at most `max_tokens` long, and that encoding; None where no head fits or the head
    that fits has lost one of `keep` (a QA answer)."""
    cuts = [m.start() for m in re.finditer(r"\s+", text)]
    best, lo, hi = None, 0, len(cuts) - 1
    while lo <= hi:  # encodings grow with the head: the largest cut that fits
        mid = (lo + hi) // 2
        cut = instruction.replace(text, text[:cuts[mid]], 1)
        ids = encode(cut)
        if len(ids) <= max_tokens:
            best, lo = (cut, ids, text[:cuts[mid]]), mid + 1
        else:
            hi = mid - 1
    if best is None or not all(k in best[2] for k in keep):
        return None
    return best[0], best[1]
