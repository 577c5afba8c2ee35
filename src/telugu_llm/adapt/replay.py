"""English replay: English sentences mixed into the adaptation text, so that continued pretraining
on the language does not cost the model its English (issue 23; replay as continual pretraining
does it, Ibrahim et al. 2024: a share of the old distribution's text beside the new).

The English comes from adapt.replay.sources: `samanantar`, the English side of the training split
(the pairs whose other side the adaptation reads); `guanaco`, the training conversations' English
turns; `file`, one sentence per line. Never validation, test or evaluation text: an English sentence
also in the validation or test split is left out and counted (the English measure is the test split's).

`share` is of the base model's tokens (its own tokenizer's, the fair baseline's): English sentences
are taken in source order until they are `share` of the mixture's tokens under it; both systems
read the same mixture (the extension spells the language's sentences in fewer tokens, so English is
a larger share of its tokens). Where the sources hold fewer, all are used and the share reached is
recorded beside the one asked. The English sentences are spread evenly among the others
(`interleave`), so that every pass and every packed stretch of rows holds both."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..data.shards import read_shards
from .pack import ended
from ..vocab.text import LearningText, file_lines, guanaco_shard_lines, nfc, samanantar_sentences

CHUNK = 1024  # English sentences tokenized at a time: read only as far as the share needs (4.9M at paper scale)


@dataclass(frozen=True)
class Mixture:
    sentences: list[str]
    facts: dict  # replay's counts: asked and reached share, English sentences and tokens, checksum


def english_sentences(*, sources: list[str], samanantar_dir: Path, guanaco_dir: Path | None, text_path: str | None,
                      counts: dict) -> Iterator[str]:
    """The English replay text of `sources` (adapt.replay.sources), NFC, read lazily (a shard or a
    line at a time) as far as it is consumed; empty and held-out sentences are left out, and every
    sentence read is counted in `counts[source]` (read, empty, held_out, used)."""
    shards = Path(samanantar_dir)
    held = {nfc(s) for s in samanantar_sentences(shards / "validation", "src") + samanantar_sentences(shards / "test", "src")}

    def lines(source):
        if source == "samanantar":
            for table in read_shards(shards / "train", columns=["src"]):
                yield from map(nfc, table.column("src").to_pylist())
        elif source == "guanaco":
            for _, shard in guanaco_shard_lines(Path(guanaco_dir) / "train", "en"):
                yield from shard
        else:
            yield from file_lines(Path(text_path), "adapt.replay.text_path")

    for source in sources:
        c = counts[source] = {"read": 0, "empty": 0, "held_out": 0, "used": 0}
        for text in lines(source):
            c["read"] += 1
            kind = "empty" if not text else "held_out" if text in held else "used"
            c[kind] += 1
            if kind == "used":
                yield text


def token_counts(tokenizer, sentences: list[str]) -> list[int]:
    """Each sentence's tokens as `pack` streams it (its special tokens and an EOS)."""
    ids = tokenizer(sentences, add_special_tokens=True)["input_ids"] if sentences else []
    return [len(ended(one, tokenizer.eos_token_id)) for one in ids]


def interleave(text: list[str], english: list[str]) -> list[str]:
    """`english` spread evenly among `text`, each list's order kept: the sentence at fraction f of its
    list goes where f falls among the other's (ties: the text's first)."""
    keyed = [((i + 0.5) / len(text), 0, s) for i, s in enumerate(text)]
    keyed += [((j + 0.5) / len(english), 1, s) for j, s in enumerate(english)]
    return [s for *_, s in sorted(keyed, key=lambda k: k[:2])]


def mix(text: list[str], english: Iterable[str], share: float, base_tokenizer) -> Mixture:
    """The adaptation text with English replay at `share` of the base tokenizer's tokens: the first
    English sentences that reach it (all of `english` where they are fewer), read no further."""
    if not share:
        return Mixture(list(text), {"share_asked": 0.0, "sha256": sha256(text)})
    if not 0 < share < 1:
        raise ValueError(f"replay share {share} is not in (0, 1)")
    text_tokens = sum(token_counts(base_tokenizer, text))
    wanted = share / (1 - share) * text_tokens
    chosen, tokens, english = [], 0, iter(english)
    while tokens < wanted and (chunk := list(itertools.islice(english, CHUNK))):
        for sentence, n in zip(chunk, token_counts(base_tokenizer, chunk)):
            if tokens >= wanted:
                break
            chosen.append(sentence)
            tokens += n
    facts = {"share_asked": share, "share": tokens / (tokens + text_tokens), "sentences": len(chosen),
             "tokens": tokens, "text_tokens": text_tokens}
    if tokens < wanted:
        facts["short"] = (f"the replay sources hold {tokens:,} English tokens, {facts['share']:.1%} of the "
                          f"mixture's (adapt.replay.share asks {share:.0%}): all are used")
    mixed = interleave(text, chosen)
    return Mixture(mixed, {**facts, "sha256": sha256(mixed)})


def sha256(sentences: list[str]) -> str:
    """The mixture's checksum (LearningText's: every sentence and a newline)."""
    return LearningText(sentences).sha256
