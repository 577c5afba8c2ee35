"""Formatted training data: Samanantar pairs as translation instructions in both directions, and
Guanaco conversations, rendered with one template, as Parquet with the prompt / completion split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_directory
from ..phrasing import check_instructions
from ..data.hashing import hex_ids, ids_to_hashes, splitmix64, text_hashes
from ..data.shards import COMPRESSION, COMPRESSION_LEVEL, read_shards
from ..errors import InputError
from ..languages import LANGUAGE_NAMES
from .formats import CHAT_TEMPLATE, Rendered, render

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source_id", pa.string(), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("source_lang", pa.string()),
        pa.field("target_lang", pa.string()),
        pa.field("instruction_lang", pa.string()),
        pa.field("n_turns", pa.int32(), nullable=False),
        pa.field("prompt", pa.string(), nullable=False),
        pa.field("completion", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
    ],
    metadata={"schema": "telugu_llm.prompts/1"},
)

DIRECTIONS = ("from_english", "into_english")
_SALT = np.uint64(0x7E1_0000_0000_0003)


def translation_turns(src: str, tgt: str, lang: str, direction: str, instruction: dict) -> tuple[list[tuple[str, str]], str, str]:
    names = LANGUAGE_NAMES[instruction["lang"]]
    source_lang, target_lang = ("en", lang) if direction == "from_english" else (lang, "en")
    sentence, answer = (src, tgt) if direction == "from_english" else (tgt, src)
    human = instruction["text"].format(source=names[source_lang], target=names[target_lang], sentence=sentence)
    return [("Human", human), ("Assistant", answer)], source_lang, target_lang


def _columns() -> dict[str, list]:
    return {name: [] for name in SCHEMA.names}


def _append(cols: dict, *, source_id: str, dataset: str, task: str, source_lang, target_lang, instruction_lang,
            n_turns: int, rendered: Rendered) -> None:
    for key, value in (("source_id", source_id), ("dataset", dataset), ("task", task), ("source_lang", source_lang),
                       ("target_lang", target_lang), ("instruction_lang", instruction_lang), ("n_turns", n_turns),
                       ("prompt", rendered.prompt), ("completion", rendered.completion), ("text", rendered.text)):
        cols[key].append(value)


def _table(cols: dict) -> pa.Table:
    texts = pa.array([f"{s}\x1f{p}" for s, p in zip(cols["source_id"], cols["prompt"])], pa.string())
    cols = dict(cols, id=hex_ids(text_hashes(texts)).to_pylist())
    return pa.table(cols, schema=SCHEMA)


def samanantar_examples(table: pa.Table, *, lang: str, template: str, tokenizer, instructions: list[dict],
                        directions: list[str], seed: int) -> pa.Table:
    """Two examples per pair (one per direction); the phrasing is drawn per (pair, direction) by a
    seeded hash, so every phrasing is used about equally and the choice is reproducible."""
    cols = _columns()
    ids = table.column("id")
    hashes = ids_to_hashes(ids)
    for d_index, direction in enumerate(directions):
        pick = splitmix64(hashes ^ splitmix64(np.array([seed * 2 + d_index], dtype=np.uint64) ^ _SALT)[0])
        choice = (pick % np.uint64(len(instructions))).astype(np.int64)
        for source_id, src, tgt, k in zip(ids.to_pylist(), table.column("src").to_pylist(),
                                          table.column("tgt").to_pylist(), choice):
            ins = instructions[k]
            turns, s_lang, t_lang = translation_turns(src, tgt, lang, direction, ins)
            _append(cols, source_id=source_id, dataset="samanantar", task="translation", source_lang=s_lang,
                    target_lang=t_lang, instruction_lang=ins["lang"], n_turns=2,
                    rendered=render(template, turns, tokenizer))
    return _table(cols)


def guanaco_examples(table: pa.Table, *, template: str, tokenizer) -> pa.Table:
    cols = _columns()
    for row in table.select(["id", "turns", "lang"]).to_pylist():
        turns = [(t["role"], t["content"]) for t in row["turns"]]
        _append(cols, source_id=row["id"], dataset="guanaco", task="conversation", source_lang=row["lang"],
                target_lang=row["lang"], instruction_lang=None, n_turns=len(turns),
                rendered=render(template, turns, tokenizer))
    return _table(cols)


def build_prompts(*, dataset: str, template: str, split_dirs: dict[str, Path], out_dir: Path, tokenizer=None,
                  lang: str | None = None, instructions: list[dict] | None = None, directions: list[str] | None = None,
                  seed: int | None = None) -> dict:
    """Write `<out_dir>/<split>.parquet` for each split; returns rows per split. Samanantar needs
    `lang` and the config's `prompts` keys instructions, directions and seed; Guanaco none of them."""
    if template == CHAT_TEMPLATE and tokenizer is None:
        raise InputError("template chat_template needs the model's tokenizer")
    if dataset == "samanantar":
        check_instructions(instructions or [], lang)
        for d in directions or []:
            if d not in DIRECTIONS:
                raise InputError(f"prompts.directions: unknown direction {d!r}; use {', '.join(DIRECTIONS)}")
    if dataset not in ("samanantar", "guanaco"):
        raise InputError(f"unknown dataset {dataset!r}")
    counts = {}
    with atomic_directory(Path(out_dir)) as tmp:
        for split, directory in split_dirs.items():
            counts[split] = 0
            # one row group per input shard: memory stays bounded by the shard size
            with pq.ParquetWriter(tmp / f"{split}.parquet", SCHEMA, compression=COMPRESSION,
                                  compression_level=COMPRESSION_LEVEL) as writer:
                for shard in read_shards(directory):
                    if dataset == "samanantar":
                        table = samanantar_examples(shard, lang=lang, template=template, tokenizer=tokenizer,
                                                    instructions=instructions, directions=list(directions), seed=seed)
                    else:
                        table = guanaco_examples(shard, template=template, tokenizer=tokenizer)
                    writer.write_table(table)
                    counts[split] += table.num_rows
    return counts
