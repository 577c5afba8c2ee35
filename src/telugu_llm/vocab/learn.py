"""The pieces a vocabulary is learned with, learned once per distinct learner and derived for every
size (the vocab_learn rule's, shared by every extension and the curve).

A learner is what decides the pieces besides the text: SentencePiece BPE with or without a dummy
prefix (Llama-2's and Mistral's tokenizers both have one, so they share one learner), or a
byte-level BPE under one base's normaliser and pre-tokenizer. Each is trained once, at the largest
size any extension or curve point asks for, and every smaller size is its prefix:
- SentencePiece BPE learns its merges greedily, most frequent pair first, and lists them in the
  order learned, then every character of the text (required_chars); the model of N pieces is the
  first N - C merged pieces of a larger one and the same C characters (C: characters of the text).
- a byte-level BPE's merges are learned greedily too; the model of N merges is the first N.
Both were checked against training at each size, identical lists: the embedded sample's 330
sentences at 200 to 1,000 pieces against 3,000 (SentencePiece) and 100 and 300 merges against 400
(byte-level); 50,000 sentences of bench/vocab_scale.py's synthetic Telugu at 1,000, 4,000 and 8,000
pieces against 12,000, and 1,000 and 4,000 merges against 5,710. tests/test_vocab.py checks it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

from ..atomic import write_json
from ..errors import InputError

MAX_SENTENCE_BYTES = 1 << 20  # SentencePiece drops a longer sentence without a word: text.py leaves it out, counted
_TOO_LOW = re.compile(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)")


def learner_of(base_json: dict, kind: str) -> tuple[str, dict]:
    """The learner a base of `kind` learns with: its name (a file name) and its settings."""
    if kind == "sentencepiece":
        pre = json.dumps(base_json.get("pre_tokenizer"))
        dummy_prefix = '"prepend_scheme": "first"' in pre or '"prepend_scheme": "always"' in pre
        return f"sentencepiece_bpe{'_dummy_prefix' if dummy_prefix else ''}", {"dummy_prefix": dummy_prefix}
    settings = {"normalizer": base_json.get("normalizer"), "pre_tokenizer": base_json.get("pre_tokenizer")}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return f"byte_level_bpe_{digest}", settings


def learn_sentencepiece(sentences: list[str], pieces: int, *, dummy_prefix: bool, key: str, threads: int = 1) -> list[str]:
    """The pieces of a SentencePiece BPE model of at most `pieces` pieces trained on `sentences`, in
    SentencePiece's order (merged pieces as learned, then every character of the text). Fewer when
    the text supports fewer (no hard limit: `take` says which size is too many). The trainer's
    errors become one error naming `key`."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    buffer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=buffer, vocab_size=pieces + 1, model_type="bpe",
            character_coverage=1.0, byte_fallback=False, normalization_rule_name="identity",
            add_dummy_prefix=dummy_prefix, split_digits=True, max_sentence_length=MAX_SENTENCE_BYTES, hard_vocab_limit=False,
            unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, num_threads=threads, minloglevel=2)
    except RuntimeError as exc:
        message = str(exc)
        if m := _TOO_LOW.search(message):
            raise InputError(f"{key}: {pieces} pieces asked for, but the text has {int(m.group(2))} distinct characters, "
                             f"each a piece: ask for at least {int(m.group(2))}") from None
        raise InputError(f"{key}: SentencePiece could not learn {pieces} pieces: {message.strip()[-300:]}") from None
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(buffer.getvalue())
    return [p.piece for p in proto.pieces if p.type == sentencepiece_model_pb2.ModelProto.SentencePiece.NORMAL]


def learn_byte_level(sentences: list[str], pieces: int, base_json: dict) -> list[list[str]]:
    """The merges (at most `pieces`) of a byte-level BPE trained on `sentences` under the base's own
    normaliser and pre-tokenizer, in the order learned (a merge seen fewer than twice is not learned)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    base = Tokenizer.from_str(json.dumps(base_json))
    learner = Tokenizer(models.BPE())
    learner.pre_tokenizer = base.pre_tokenizer
    if base.normalizer is not None:
        learner.normalizer = base.normalizer
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + pieces, min_frequency=2, show_progress=False,
                                  initial_alphabet=alphabet)
    learner.train_from_iterator(sentences, trainer)
    return [list(m) if isinstance(m, list) else m.split(" ", 1) for m in json.loads(learner.to_str())["model"]["merges"]]


def learn(base_json: dict, kind: str, sentences: list[str], pieces: int, *, key: str, threads: int = 1) -> dict:
    """The learned model of the base's learner at `pieces` (see the module): {learner, kind,
    settings, asked, sentences, pieces | merges}."""
    name, settings = learner_of(base_json, kind)
    out = {"learner": name, "kind": kind, "settings": settings, "asked": pieces, "sentences": len(sentences)}
    if kind == "sentencepiece":
        out["pieces"] = learn_sentencepiece(sentences, pieces, dummy_prefix=settings["dummy_prefix"], key=key,
                                            threads=threads)
    else:
        out["merges"] = learn_byte_level(sentences, pieces, base_json)
    return out


def take(learned: dict, pieces: int, *, key: str) -> list[str] | list[tuple[str, str]]:
    """The model of `pieces` pieces, derived from a learned model of at least as many (see the
    module): SentencePiece's pieces, or the byte-level merges. One error naming `key` when the
    text supports fewer pieces, or (SentencePiece) fewer than its characters are asked for."""
    sentences = learned["sentences"]
    if learned["kind"] == "sentencepiece":
        every = learned["pieces"]
        chars = [p for p in every if len(p) == 1]
        merged = every[:len(every) - len(chars)]
        if pieces > len(every) and len(every) < learned["asked"]:
            raise InputError(f"{key}: {pieces} pieces asked for, but the text ({sentences} sentences) supports at "
                             f"most {len(every)}; lower it or learn from more text")
        if pieces > len(every):
            raise InputError(f"{key}: {pieces} pieces asked for, but only {learned['asked']} were learned")
        if pieces < len(chars):
            raise InputError(f"{key}: {pieces} pieces asked for, but the text has {len(chars)} distinct characters, "
                             f"each a piece: ask for at least {len(chars)}")
        return merged[:pieces - len(chars)] + chars
    merges = [tuple(m) for m in learned["merges"]]
    if pieces > len(merges):
        raise InputError(f"{key}: {pieces} pieces asked for, but the text ({sentences} sentences) supports at "
                         f"most {len(merges)} (pieces seen at least twice); lower it or learn from more text")
    return merges[:pieces]


def learn_all(bases: dict[str, tuple[dict, str]], sentences: list[str], pieces: int, out_dir: Path, *,
              text_facts: dict, key: str, threads: int = 1) -> dict[str, str]:
    """Each distinct learner of `bases` ({tokenizer: (tokenizer.json, kind)}) trained once at
    `pieces`, written to out_dir/<learner>.json (with the text's facts); returns tokenizer -> learner."""
    if not sentences:
        raise InputError(f"{key}: no learning text (every source is empty or held out)")
    out_dir = Path(out_dir)
    chosen = {}
    for tokenizer, (base_json, kind) in sorted(bases.items()):
        name, _ = learner_of(base_json, kind)
        chosen[tokenizer] = name
        if not (out_dir / f"{name}.json").exists():
            write_json(out_dir / f"{name}.json", {**learn(base_json, kind, sentences, pieces, key=key, threads=threads),
                                                  "text": text_facts})
    return chosen


def learned_file(learned_dir: Path, base_json: dict, kind: str) -> Path:
    """The learned model of a base's learner in vocab_learn's folder."""
    return Path(learned_dir) / f"{learner_of(base_json, kind)[0]}.json"
