"""A tokenizer extended with pieces of one language, learned from its training text.

Two kinds of tokenizer are extended, each as its kind is built:
- SentencePiece-style BPE with byte fallback (Llama-2, Mistral, Gemma: what transformers converts a
  SentencePiece model into). A SentencePiece BPE model is trained on the text and its pieces that
  the base lacks are appended to the base, as Chinese-LLaMA did (Cui et al. 2023, merging a 20k
  Chinese SentencePiece model into Llama's). Chinese-LLaMA appended them to the SentencePiece model;
  transformers turns that model into a BPE whose merges it generates from the vocabulary
  (`generate_merges`: every split of a piece into two pieces of the vocabulary), so the same
  merges are generated here for the new pieces and appended after the base's.
- byte-level BPE (SmolLM2, GPT-2 style): a BPE is trained with `tokenizers` on the text under the
  base's own normaliser and pre-tokenizer, and its merges whose result the base lacks are appended
  with their new pieces, in the order they were learned.

A piece is added only if it is made of the language's script (a leading word-boundary marker
allowed; for byte-level pieces, bytes of a character cut at the piece's edge allowed): a merge
can then only fire inside text of that script, so text in other scripts (English) encodes to the
same ids as before, which `check.check_extension` verifies on the data. Base ids keep their meaning; new
ids come after every base id (added tokens included). New merges rank after the base's.
"""

from __future__ import annotations

import copy
import functools
import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_directory, write_json
from ..errors import InputError
from ..languages import script_of_language
from ..resources import SOURCE_JSON, sha256_file
from ..tokens.tokenizer import piece_bytes
from .check import Source, check_extension
from .embeddings import EXTENSION_JSON
from .learn import learn, learned_file, learner_of, take

JOINERS = {"\u200c", "\u200d"}  # ZWNJ and ZWJ: part of Indic spelling (Unicode ch. 12)
METASPACE = "▁"


@dataclass
class Extension:
    tokenizer_json: dict  # the extended tokenizer.json
    kind: str  # sentencepiece | byte_level
    learned: int  # pieces learned from the text
    new_pieces: list[str]  # appended, in id order from first_new_id
    first_new_id: int
    merges_added: int


def tokenizer_kind(tokenizer_json: dict, key: str) -> str:
    """`sentencepiece` (BPE with byte fallback), `byte_level` (BPE over GPT-2's byte alphabet), or one
    error naming `key` for a tokenizer this stage cannot extend."""
    model = tokenizer_json.get("model") or {}
    kinds = json.dumps([tokenizer_json.get("pre_tokenizer"), tokenizer_json.get("decoder")])
    if model.get("type") != "BPE":
        raise InputError(f"{key}: the tokenizer is a {model.get('type')} model; the vocabulary stage extends BPE "
                         "tokenizers only (SentencePiece-style with byte fallback, as Llama-2's and Mistral's, or "
                         "byte-level, as SmolLM2's)")
    if model.get("byte_fallback"):
        return "sentencepiece"
    if '"ByteLevel"' in kinds:
        return "byte_level"
    raise InputError(f"{key}: a BPE tokenizer with neither byte fallback nor a byte-level alphabet: a new piece could "
                     "leave some text unencodable, so the vocabulary stage does not extend it")


def script_piece(piece: str, kind: str, lang: str) -> bool:
    """Whether a learned piece is made of the language's script (see the module's docstring)."""
    script = script_of_language(lang)
    if kind == "byte_level":
        raw = piece_bytes(piece, True)
        return not raw.isascii() and _script_bytes(raw.removeprefix(b" "), lang)
    text = piece.lstrip(METASPACE)
    return bool(text) and all(script.contains(ch) or ch in JOINERS for ch in text)


@functools.lru_cache(maxsize=4)
def _encodings(lang: str) -> tuple[frozenset, frozenset, frozenset]:
    """The UTF-8 encodings of the script's characters (and the joiners), their proper suffixes and
    their proper prefixes."""
    chars = [chr(cp) for lo, hi in script_of_language(lang).ranges for cp in range(lo, hi + 1)] + sorted(JOINERS)
    whole = frozenset(ch.encode("utf-8") for ch in chars)
    return (whole, frozenset(e[i:] for e in whole for i in range(1, len(e))),
            frozenset(e[:i] for e in whole for i in range(1, len(e))))


def _script_bytes(raw: bytes, lang: str) -> bool:
    """Whether `raw` is a run of the script's characters in UTF-8, a character cut at either edge
    allowed (a byte-level piece may end or start inside a character)."""
    whole, suffixes, prefixes = _encodings(lang)

    def rest(i: int) -> bool:  # raw[i:] is whole characters, then at most one cut-off head
        if i == len(raw):
            return True
        if raw[i:] in prefixes:
            return True
        return any(raw[i:i + n] in whole and rest(i + n) for n in (1, 2, 3, 4))

    return bool(raw) and (rest(0) or any(raw[:o] in suffixes and rest(o) for o in (1, 2, 3)))


def _merges_for(piece: str, vocab: dict[str, int]) -> list[tuple[str, str]]:
    """transformers' generate_merges for one piece: every split into two pieces of the vocabulary,
    ordered by their ids."""
    splits = [(piece[:i], piece[i:]) for i in range(1, len(piece)) if piece[:i] in vocab and piece[i:] in vocab]
    return sorted(splits, key=lambda pair: (vocab[pair[0]], vocab[pair[1]]))


def next_id(tokenizer_json: dict) -> int:
    """The first id after every id of the base (its model's vocabulary and its added tokens)."""
    ids = list(tokenizer_json["model"]["vocab"].values()) + [t["id"] for t in tokenizer_json.get("added_tokens", [])]
    return max(ids) + 1


def extend(base_json: dict, learned: dict, pieces: int, lang: str, *, key: str) -> Extension:
    """The base tokenizer.json extended with the first `pieces` pieces of a learned model (the base's
    learner's, `learn.learn`; see the module)."""
    kind = tokenizer_kind(base_json, key)
    if learned["learner"] != learner_of(base_json, kind)[0]:
        raise InputError(f"{key}: the learned model is {learned['learner']}'s, not this tokenizer's learner's "
                         f"({learner_of(base_json, kind)[0]})")
    out = copy.deepcopy(base_json)
    vocab = out["model"]["vocab"]
    merges = out["model"]["merges"]
    as_pairs = bool(merges) and isinstance(merges[0], list)
    first = next_id(out)
    new: list[str] = []
    added: list[tuple[str, str]] = []
    if kind == "sentencepiece":
        learned_pieces = take(learned, pieces, key=key)
        for piece in learned_pieces:
            if piece not in vocab and script_piece(piece, kind, lang):
                vocab[piece] = first + len(new)
                new.append(piece)
        for piece in new:
            added += _merges_for(piece, vocab)
    else:
        learned_merges = take(learned, pieces, key=key)
        learned_pieces = [a + b for a, b in learned_merges]
        for a, b in learned_merges:
            piece = a + b
            if piece in vocab or a not in vocab or b not in vocab or not script_piece(piece, kind, lang):
                continue
            vocab[piece] = first + len(new)
            new.append(piece)
            added.append((a, b))
    if not new:
        raise InputError(f"{key}: none of the {len(learned_pieces)} pieces learned is a new piece of the {lang} script: "
                         "the base tokenizer has them all already; nothing to extend")
    merges += [list(pair) if as_pairs else " ".join(pair) for pair in added]
    return Extension(out, kind, len(learned_pieces), new, first, len(added))


def extend_from_text(base_json: dict, sentences: list[str], pieces: int, lang: str, *, key: str,
                     threads: int = 1) -> Extension:
    """`extend` with a model learned from `sentences` at `pieces` (one extension on its own: the
    workflow learns once for every size, in vocab_learn)."""
    kind = tokenizer_kind(base_json, key)
    if not sentences:
        raise InputError(f"{key}: no learning text (every source is empty or held out)")
    return extend(base_json, learn(base_json, kind, sentences, pieces, key=key, threads=threads), pieces, lang, key=key)


def base_splits(base_json: dict, pieces: list[str]) -> list[list[int]]:
    """The base ids each new piece is spelled with: the base model's own segmentation of it (byte
    pieces where the base has no piece for a character), the rows a new row is initialised from."""
    from tokenizers import Tokenizer

    model = Tokenizer.from_str(json.dumps(base_json)).model
    return [[token.id for token in model.tokenize(piece)] for piece in pieces]


def build_extended(*, name: str, base_dir: Path, learned_dir: Path, pieces: int, lang: str, texts: Iterable[Source],
                   english: Iterable[Source], out_dir: Path, key: str) -> dict:
    """An extended tokenizer resource in `out_dir` (atomically): the base's files with the extended
    tokenizer.json, `extension.json` (the new ids' base spellings, for the model's new rows) and
    source.json (the base's checksum, the learned model's and the text's, what was added, the
    checks on `texts` and `english`, streamed: `check.check_extension`). Returns source.json."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    base_dir = Path(base_dir)
    base_json = json.loads((base_dir / "tokenizer.json").read_text(encoding="utf-8"))
    learned_path = learned_file(learned_dir, base_json, tokenizer_kind(base_json, key))
    learned = json.loads(learned_path.read_text(encoding="utf-8"))
    ext = extend(base_json, learned, pieces, lang, key=key)
    base_tok = Tokenizer.from_str(json.dumps(base_json))
    ext_tok = Tokenizer.from_str(json.dumps(ext.tokenizer_json))
    checks = check_extension(base_tok, ext_tok, texts=texts, other=english, key=key)
    base_source = json.loads((base_dir / SOURCE_JSON).read_text())
    with atomic_directory(Path(out_dir)) as tmp:
        for path in base_dir.iterdir():
            if path.is_file() and path.name not in ("tokenizer.json", SOURCE_JSON) and not path.name.startswith("."):
                shutil.copyfile(path, tmp / path.name)
        (tmp / "tokenizer.json").write_text(json.dumps(ext.tokenizer_json, ensure_ascii=False), encoding="utf-8")
        write_json(tmp / EXTENSION_JSON, {"first_new_id": ext.first_new_id, "pieces": ext.new_pieces,
                                          "base_splits": base_splits(base_json, ext.new_pieces)})
        tokenizer = AutoTokenizer.from_pretrained(tmp, trust_remote_code=False)
        size = len(tokenizer)
        if size != ext.first_new_id + len(ext.new_pieces):
            raise InputError(f"{key}: the extended tokenizer loads with {size} ids, expected "
                             f"{ext.first_new_id + len(ext.new_pieces)}")
        source = {"name": name, "sha256": sha256_file(tmp / "tokenizer.json"), "class": type(tokenizer).__name__,
                  "vocab_size": size, "bos_token": tokenizer.bos_token, "eos_token": tokenizer.eos_token,
                  "has_chat_template": base_source["has_chat_template"],
                  "extension": {"base": base_source["name"], "base_sha256": sha256_file(base_dir / "tokenizer.json"),
                                "base_vocab_size": base_source["vocab_size"], "kind": ext.kind, "lang": lang,
                                "pieces": pieces, "learned": ext.learned, "added": len(ext.new_pieces),
                                "merges_added": ext.merges_added, "first_new_id": ext.first_new_id,
                                "learned_model": {"learner": learned["learner"], "file": learned_path.name,
                                                  "sha256": sha256_file(learned_path),
                                                  "pieces_learned": learned["asked"]},
                                "text": learned["text"], **checks}}
        write_json(tmp / SOURCE_JSON, source)
    return source

