"""The text a vocabulary is learned from: the language's side of Samanantar's training split (or a
training subset of it), optionally the language's Guanaco turns (training split) and a monolingual
file, one sentence per line. Never validation, test or evaluation data: a learning sentence that is
also a validation or test sentence is left out, and counted.

Every sentence is NFC-normalised (the data stage's form), so that what is learned and checked is
what the tokenizer will see; an empty line is skipped and counted."""

from __future__ import annotations

import hashlib
import itertools
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from ..data.shards import read_shards, shard_paths
from ..errors import InputError
from ..languages import script_of_language
from .check import shard_sources
from .learn import MAX_SENTENCE_BYTES

SOURCES = ("samanantar", "guanaco", "file")


@dataclass
class LearningText:
    sentences: list[str]
    counts: dict = field(default_factory=dict)  # per source: read, empty, held_out (left out)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for sentence in self.sentences:
            digest.update(sentence.encode("utf-8") + b"\n")
        return digest.hexdigest()


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def samanantar_sentences(shards_dir: Path, column: str = "tgt") -> list[str]:
    """One column of a folder of Samanantar shards (a split, or a training subset), in shard order."""
    out: list[str] = []
    for table in read_shards(Path(shards_dir), columns=[column]):
        out += table.column(column).to_pylist()
    return out


def guanaco_sentences(shards_dir: Path, lang: str) -> list[str]:
    """The lines of every turn of the Guanaco training conversations identified as `lang`."""
    out: list[str] = []
    for table in read_shards(Path(shards_dir), columns=["lang", "turns"]):
        for conv_lang, turns in zip(table.column("lang").to_pylist(), table.column("turns").to_pylist()):
            if conv_lang == lang:
                out += [line for turn in turns for line in turn["content"].splitlines()]
    return out


def file_sentences(path: Path, key: str) -> list[str]:
    """A monolingual UTF-8 file, one sentence per line; an undecodable line is one error naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{key}: {path} does not exist")
    out = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                out.append(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InputError(f"{key}: {path}, line {number}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    return out


def learning_text(parts: dict[str, list[str]], held_out: list[str], max_sentences: int | None = None, *,
                  lang: str | None = None, file_path: str | None = None, key: str = "vocab.text_path") -> LearningText:
    """The learning sentences of each source (in the order given), NFC, without empty lines and
    without any sentence that is also held out (validation or test), each left-out line counted;
    cut to the first `max_sentences` when given.

    Also left out and counted (keys present only when some were): a sentence longer than the
    learner takes (`too_long`, with the line of the first, `too_long_first_line`), which
    SentencePiece would drop silently; and, of the `file` source, a line with no letter of `lang`'s
    script (`not_<script>`), the file checked as Samanantar's sides are: a file most of whose
    lines have none is not text in the language, and is one error naming it."""
    held = {nfc(s) for s in held_out}
    script = script_of_language(lang).python_regex if lang else None
    sentences: list[str] = []
    counts = {}
    for source, lines in parts.items():
        c = {"read": len(lines), "empty": 0, "held_out": 0, "used": 0}
        other = f"not_{script_of_language(lang).name.lower()}" if script is not None and source == "file" else None
        for number, line in enumerate(lines, 1):
            text = nfc(line)
            if not text:
                c["empty"] += 1
            elif len(text.encode("utf-8")) > MAX_SENTENCE_BYTES:
                c["too_long"] = c.get("too_long", 0) + 1
                c.setdefault("too_long_first_line", number)
            elif other and not script.search(text):
                c[other] = c.get(other, 0) + 1
            elif text in held:
                c["held_out"] += 1
            else:
                sentences.append(text)
                c["used"] += 1
        if other and c.get(other, 0) * 2 > c["read"] - c["empty"]:
            raise InputError(f"{key}: {file_path or 'the file'}: {c[other]:,} of {c['read'] - c['empty']:,} lines "
                             f"have no {script_of_language(lang).name} letter; is it text in the language "
                             f"(samanantar.lang: {lang})?")
        counts[source] = c
    if max_sentences is not None and len(sentences) > max_sentences:
        counts["cut_to_max_sentences"] = len(sentences) - max_sentences
        sentences = sentences[:max_sentences]
    return LearningText(sentences, counts)


def gather(*, sources: list[str], samanantar_dir: Path, subset_dir: Path | None, guanaco_dir: Path | None,
           text_path: str | None, lang: str, max_sentences: int | None, key: str = "vocab.text_path") -> LearningText:
    """The learning text of vocab.sources (what vocab_learn learns from; also the adaptation's text,
    adapt.sources, `key` naming its file in errors)."""
    shards = Path(samanantar_dir)
    held_out = samanantar_sentences(shards / "validation") + samanantar_sentences(shards / "test")
    parts = {}
    for source in sources:
        if source == "samanantar":
            parts[source] = samanantar_sentences(subset_dir if subset_dir is not None else shards / "train")
        elif source == "guanaco":
            parts[source] = guanaco_sentences(Path(guanaco_dir) / "train", lang)
        else:
            parts[source] = file_sentences(Path(text_path), key)
    return learning_text(parts, held_out, max_sentences, lang=lang, file_path=text_path, key=key)


def file_lines(path: Path, key: str) -> Iterator[str]:
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                yield nfc(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise InputError(f"{key}: {path}, line {number}: not UTF-8 ({exc.reason} at byte {exc.start})") from None


def guanaco_shard_lines(shards_dir: Path, lang: str) -> Iterator[tuple[str, list[str]]]:
    for path in shard_paths(Path(shards_dir)):
        table = pq.read_table(path, columns=["lang", "turns"])
        yield (f"{path} (the lines of its {lang} turns), line",
               [nfc(line) for conv_lang, turns in zip(table.column("lang").to_pylist(), table.column("turns").to_pylist())
                if conv_lang == lang for turn in turns for line in turn["content"].splitlines()])


def check_sources(*, sources: list[str], samanantar_dir: Path, guanaco_dir: Path | None, text_path: str | None,
                  lang: str) -> tuple[Iterator, Iterator]:
    """What an extension is checked on, read lazily (a shard or a file line at a time): the
    language's sentences of every Samanantar split and of the other learning sources, and the
    English sentences of every split. Each is (where, sentences), as `check.check_extension` takes."""
    shards = Path(samanantar_dir)
    splits = ("train", "validation", "test")
    texts = itertools.chain(*(shard_sources(shards / split, "tgt") for split in splits))
    if "guanaco" in sources:
        texts = itertools.chain(texts, guanaco_shard_lines(Path(guanaco_dir) / "train", lang))
    if "file" in sources:
        texts = itertools.chain(texts, [(f"{text_path}, line", file_lines(Path(text_path), "vocab.text_path"))])
    english = itertools.chain(*(shard_sources(shards / split, "src") for split in splits))
    return texts, english
