"""OpenAssistant-Guanaco conversations to parsed, language-tagged, split Parquet shards.

A record is one conversation in the dataset's own text format,
`### Human: …### Assistant: …### Human: …`. Each is parsed into its turns; a record that does not
parse into Human/Assistant turns, alternating and ending with the Assistant, is dropped and counted
under the precise reason. Every `### Human:` or `### Assistant:` starts a turn, as the format
defines, so a marker quoted inside an answer splits that answer too (the text format cannot tell
the two apart): such a record mostly breaks the alternation and is dropped and counted under
`turns_not_alternating`; where it still alternates it is kept with the extra turns, counted in
`n_turns`. The language of a conversation is recorded twice: its dominant Unicode
script, and the prediction of py3langid (a fork of langid.py, Lui & Baldwin 2012, 97 languages,
model shipped in the package).
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_directory, write_json
from ..errors import InputError
from ..hub import rows as hub_rows
from ..languages import SCRIPTS
from .hashing import SPLITS, HashIndex, assign_splits, first_occurrences, hex_ids, text_hashes
from .shards import ShardWriter
from .text import clip, normalize_turn

log = logging.getLogger(__name__)

TURN_SCHEMA = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])
SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source_index", pa.int64(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("turns", pa.list_(TURN_SCHEMA), nullable=False),
        pa.field("n_turns", pa.int32(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
        pa.field("lang_prob", pa.float32(), nullable=False),
        pa.field("script", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
    ],
    metadata={"schema": "telugu_llm.guanaco/1"},
)
DICTIONARY_COLUMNS = ("lang", "script", "split")  # few distinct values (the others are mostly distinct)

ROLES = {"human": "Human", "assistant": "Assistant"}
_MARKER = re.compile(r"###\s*(Human|Assistant)\s*:[ \t]*", re.IGNORECASE)
# The sub-reasons of "malformed_conversation", checked in this order; the first that applies counts.
MALFORMED = (
    "missing_text",
    "no_turns",
    "text_before_first_turn",
    "no_assistant_turn",
    "first_turn_not_human",
    "empty_turn",
    "turns_not_alternating",
    "ends_with_human_turn",
)
DROP_REASONS = ("invalid_utf8", "malformed_conversation", "duplicate")
_LANGID_CHARS = 2000


@dataclass(frozen=True)
class Turn:
    role: str  # "Human" or "Assistant"
    content: str


def parse_conversation(text: object) -> tuple[list[Turn] | None, str | None]:
    """Split a Guanaco text into normalised turns. Returns (turns, None) or (None, reason)."""
    if not isinstance(text, str) or not text.strip():
        return None, "missing_text"
    pieces = _MARKER.split(text)
    if len(pieces) == 1:
        return None, "no_turns"
    if normalize_turn(pieces[0]):
        return None, "text_before_first_turn"
    turns = [Turn(ROLES[role.lower()], normalize_turn(content)) for role, content in zip(pieces[1::2], pieces[2::2])]
    roles = [t.role for t in turns]
    if "Assistant" not in roles:
        return None, "no_assistant_turn"
    if roles[0] != "Human":
        return None, "first_turn_not_human"
    if any(not t.content for t in turns):
        return None, "empty_turn"
    if any(a == b for a, b in zip(roles, roles[1:])):
        return None, "turns_not_alternating"
    if roles[-1] != "Assistant":
        return None, "ends_with_human_turn"
    return turns, None


def render(turns: list[Turn]) -> str:
    """The dataset's own text format, from parsed turns (the canonical `text` column)."""
    return "".join(f"### {t.role}: {t.content}" for t in turns)


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@functools.cache
def _script_patterns() -> tuple[tuple[str, re.Pattern], ...]:
    return tuple((s.name, s.python_regex) for s in SCRIPTS.values())


def identify(text: str) -> tuple[str, float, str]:
    """(ISO 639-1 code by py3langid, its probability, dominant script) of the first 2000 characters."""
    sample = text[:_LANGID_CHARS]
    lang, prob = _identifier().classify(sample)
    counts = [(len(p.findall(sample)), name) for name, p in _script_patterns()]
    best = max(counts, key=lambda c: (c[0], [-ord(ch) for ch in c[1]]))
    return lang, float(prob), best[1] if best[0] else "None"


def iter_jsonl(path: Path, on_invalid: str, counts: Counter) -> Iterator[tuple[int, object, str]]:
    """(record index, text value, location) per non-blank line; JSON errors name the line."""
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    with handle:
        index = 0
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                if on_invalid != "skip":
                    raise InputError(
                        f"{path}: line {number}: invalid UTF-8 (byte 0x{raw[exc.start]:02x} at byte {exc.start + 1}); "
                        "fix the file, or set guanaco.on_invalid_utf8: skip to drop and count such records"
                    ) from None
                counts["invalid_utf8"] += 1
                index += 1
                continue
            if not line.strip():
                counts["blank_lines"] += 1
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}: line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            text = record.get("text") if isinstance(record, dict) else None
            yield index, text, f"{path}:{number}"
            index += 1


def iter_parquet(path: Path) -> Iterator[tuple[int, object, str]]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    if "text" not in pf.schema_arrow.names:
        raise InputError(f"{path}: no 'text' column (columns: {', '.join(pf.schema_arrow.names)})")
    index = 0
    batches = pf.iter_batches(columns=["text"], batch_size=10_000)
    while True:
        try:
            batch = next(batches, None)
        except (pa.ArrowInvalid, OSError) as exc:  # a valid footer over a corrupt page
            raise InputError(f"{path}: row {index} onwards cannot be read ({exc})") from None
        if batch is None:
            return
        for text in batch.column(0).to_pylist():
            yield index, text, f"{path}: row {index}"
            index += 1


def iter_hub(hub: dict, splits: list[str]) -> Iterator[tuple[int, object, str]]:
    """Stream `timdettmers/openassistant-guanaco` (column `text`); HF_TOKEN is read by the hub client."""
    index = 0
    for split in splits:
        for row in hub_rows("guanaco.hub", hub, split, columns=("text",)):
            yield index, row.get("text"), f"{hub['repo']}@{hub['revision']}/{split}: row {index}"
            index += 1


def build_guanaco(*, source: str, path: Path | None, out_dir: Path, quality_path: Path, rows_per_shard: int,
                  validation_fraction: float, test_fraction: float, on_invalid_utf8: str, hub: dict) -> dict:
    """Parse, normalise, language-tag, deduplicate and split; write shards and the quality JSON.
    The keyword arguments are the keys of the config's `guanaco` section (`hub`: repo, revision, splits)."""
    counts: Counter = Counter()
    if source in ("embedded", "local"):
        path = Path(path)
        if not path.is_file():
            raise InputError(f"guanaco.path: {path} does not exist")
        if path.suffix == ".parquet":
            records = iter_parquet(path)
        elif path.suffix in (".jsonl", ".json"):
            records = iter_jsonl(path, on_invalid_utf8, counts)
        else:
            raise InputError(f"guanaco.path: {path}: expected a .jsonl or .parquet file with a 'text' column")
        inputs = [str(path)]
    elif source == "hub":
        records = iter_hub(hub, list(hub["splits"]))
        inputs = [f"hf://datasets/{hub['repo']}@{hub['revision']}/{','.join(hub['splits'])}"]
    else:
        raise InputError(f"guanaco.source: unknown source {source!r}; use embedded, local or hub")

    malformed: Counter = Counter({r: 0 for r in MALFORMED})
    examples: dict[str, list[dict]] = {}
    index = HashIndex()
    languages: Counter = Counter()
    records_read = 0

    def flush(rows: list[tuple[int, list[Turn]]], writer: ShardWriter) -> None:
        texts = pa.array([render(turns) for _, turns in rows], pa.string())
        h = text_hashes(texts)
        first = first_occurrences(h, index)
        counts["duplicate"] += int((~first).sum())
        keep = np.flatnonzero(first)
        h = h[keep]
        split = assign_splits(h, validation_fraction, test_fraction)
        kept = [rows[i] for i in keep]
        ids = [identify("\n".join(t.content for t in turns)) for _, turns in kept]
        languages.update(lang for lang, _, _ in ids)
        table = pa.table(
            {
                "id": hex_ids(h),
                "source_index": pa.array([i for i, _ in kept], pa.int64()),
                "text": texts.take(pa.array(keep, pa.int64())),
                "turns": pa.array([[{"role": t.role, "content": t.content} for t in turns] for _, turns in kept],
                                  pa.list_(TURN_SCHEMA)),
                "n_turns": pa.array([len(turns) for _, turns in kept], pa.int32()),
                "lang": pa.array([x[0] for x in ids], pa.string()),
                "lang_prob": pa.array([x[1] for x in ids], pa.float32()),
                "script": pa.array([x[2] for x in ids], pa.string()),
                "split": pa.array([SPLITS[s] for s in split], pa.string()),
            },
            schema=SCHEMA,
        )
        for code, name in enumerate(SPLITS):
            writer.write(name, table.filter(pa.array(split == code)))

    with atomic_directory(Path(out_dir)) as tmp:
        writer = ShardWriter(tmp, SCHEMA, rows_per_shard, SPLITS, DICTIONARY_COLUMNS)
        pending: list[tuple[int, list[Turn]]] = []
        for source_index, text, where in records:
            records_read += 1
            turns, reason = parse_conversation(text)
            if reason:
                malformed[reason] += 1
                bucket = examples.setdefault(reason, [])
                if len(bucket) < 3:
                    bucket.append({"where": where, "text": clip(text if isinstance(text, str) else repr(text))})
                continue
            pending.append((source_index, turns))
            if len(pending) >= rows_per_shard:
                flush(pending, writer)
                pending = []
        if pending:
            flush(pending, writer)
        shards = writer.close()
        if not any(s["rows"] for parts in shards.values() for s in parts):  # inside: nothing is left behind
            reasons = {**{f"malformed_conversation/{k}": n for k, n in malformed.items() if n},
                       **{k: counts[k] for k in ("invalid_utf8", "duplicate") if counts[k]}}
            raise InputError(f"guanaco: all {records_read + counts['invalid_utf8']:,} records of {', '.join(inputs)} were "
                             f"dropped ({'; '.join(f'{k} {n:,}' for k, n in reasons.items()) or 'no record'}); does each "
                             "record's `text` hold a conversation in the dataset's format, '### Human: …### Assistant: …'?")
    records_read += counts["invalid_utf8"]
    splits = {name: sum(s["rows"] for s in shards[name]) for name in SPLITS}
    dropped = {"invalid_utf8": counts["invalid_utf8"], "malformed_conversation": sum(malformed.values()),
               "duplicate": counts["duplicate"]}
    quality = {
        "dataset": "guanaco",
        "source": source,
        "inputs": inputs,
        "rows_read": records_read,
        "rows_kept": sum(splits.values()),
        "dropped": dropped,
        "dropped_total": sum(dropped.values()),
        "malformed": dict(malformed),
        "blank_lines_skipped": counts["blank_lines"],
        "splits": splits,
        "languages": dict(sorted(languages.items(), key=lambda kv: (-kv[1], kv[0]))),
        "shards": shards,
        "dropped_examples": examples,
        "settings": {
            "rows_per_shard": rows_per_shard,
            "validation_fraction": validation_fraction,
            "test_fraction": test_fraction,
            "on_invalid_utf8": on_invalid_utf8,
        },
    }
    assert quality["rows_read"] == quality["rows_kept"] + quality["dropped_total"]
    write_json(quality_path, quality)
    return quality
