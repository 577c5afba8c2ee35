"""Tokenizers as retrieved, checksum-verified resources, loaded through transformers so that the
same object serves the fertility analysis and training (`loading.load_tokenizer`); and what their
vocabularies hold (byte pieces, each piece's bytes), for the fertility analysis.

A resource directory holds the tokenizer as `save_pretrained` writes it (tokenizer.json and
tokenizer_config.json, loaded in well under a second) and `source.json`: where it came from and
the sha256 of the original file.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from pathlib import Path

from ..atomic import atomic_directory, write_json
from ..errors import InputError
from ..loading import load_tokenizer
from ..resources import SOURCE_JSON, fetch_file

log = logging.getLogger(__name__)

_SENTENCEPIECE_CLASSES = ("LlamaTokenizer", "GemmaTokenizer", "T5Tokenizer")
_BYTE_PIECE = re.compile(r"^<0x[0-9A-Fa-f]{2}>$")


def _file_name(spec: dict) -> str:
    fmt = spec["format"]
    return {"sentencepiece": "tokenizer.model", "gguf": "model.gguf", "tokenizer_json": "tokenizer.json"}[fmt]


def build_tokenizer(name: str, spec: dict, out_dir: Path) -> dict:
    """Retrieve, verify and convert one tokenizer into `out_dir` (atomically). Returns source.json."""
    import transformers

    what = f"tokenizers.{name}"
    fmt = spec["format"]
    with atomic_directory(Path(out_dir)) as tmp:
        raw = tmp / "_original" / _file_name(spec)
        raw.parent.mkdir()
        digest = fetch_file(spec, raw, what)
        if spec["source"] == "hub":
            tokenizer = transformers.AutoTokenizer.from_pretrained(
                spec["repo"], revision=spec["revision"], trust_remote_code=False)
        elif fmt == "sentencepiece":
            cls_name = spec["class"]
            if cls_name not in _SENTENCEPIECE_CLASSES:
                raise InputError(f"{what}.class: {cls_name!r} is not one of {', '.join(_SENTENCEPIECE_CLASSES)}")
            tokenizer = getattr(transformers, cls_name).from_pretrained(
                raw.parent, add_bos_token=spec["add_bos"], add_eos_token=False)
        elif fmt == "gguf":
            tokenizer = transformers.AutoTokenizer.from_pretrained(raw.parent, gguf_file=raw.name)
        elif fmt == "tokenizer_json":
            tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_file=str(raw))
        else:
            raise InputError(f"{what}.format: unknown format {fmt!r}; use sentencepiece, gguf or tokenizer_json")
        if len(tokenizer) == 0 or not tokenizer("a", add_special_tokens=False).input_ids:
            raise InputError(f"{what}: {raw.name} loaded as an empty tokenizer")
        tokenizer.save_pretrained(tmp)
        for leftover in raw.parent.iterdir():
            leftover.unlink()
        raw.parent.rmdir()
        source = {"name": name, "sha256": digest, "spec": spec, "class": type(tokenizer).__name__,
                  "vocab_size": len(tokenizer), "bos_token": tokenizer.bos_token, "eos_token": tokenizer.eos_token,
                  "has_chat_template": bool(getattr(tokenizer, "chat_template", None))}
        write_json(tmp / SOURCE_JSON, source)
    return source


def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-to-character table (Radford et al. 2019), inverted: byte-level BPE pieces spell
    bytes with these characters."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


_BYTE_LEVEL = _byte_level_alphabet()


def piece_bytes(piece: str, byte_level: bool) -> bytes:
    """The bytes a piece stands for: byte-level BPE, or SentencePiece (▁ a space, <0xNN> a byte)."""
    if byte_level and all(ch in _BYTE_LEVEL for ch in piece):
        return bytes(_BYTE_LEVEL[ch] for ch in piece)
    if re.fullmatch(r"<0x[0-9A-Fa-f]{2}>", piece):
        return bytes([int(piece[3:5], 16)])
    return piece.replace("▁", " ").encode("utf-8")


@functools.lru_cache(maxsize=8)
def vocabulary_facts(resource_dir: str) -> dict:
    """Per-vocabulary facts the fertility metrics need: which ids are byte-fallback pieces (a single
    byte that is not a whole character: SentencePiece's <0xNN> pieces, or byte-level BPE tokens
    whose bytes are not valid UTF-8 alone), the unknown id, and each id's text."""
    tokenizer = load_tokenizer(resource_dir)
    backend = tokenizer.backend_tokenizer
    size = backend.get_vocab_size(with_added_tokens=True)
    pieces = [backend.id_to_token(i) or "" for i in range(size)]
    texts = backend.decode_batch([[i] for i in range(size)], skip_special_tokens=False)
    byte_level = "ByteLevel" in json.dumps(json.loads(backend.to_str()).get("decoder") or {})
    byte_ids = sorted(i for i, p in enumerate(pieces) if _is_byte_piece(p, byte_level))
    return {"size": size, "pieces": pieces, "texts": texts, "byte_ids": byte_ids, "byte_level": byte_level,
            "unk_id": tokenizer.unk_token_id, "special_ids": sorted(tokenizer.all_special_ids)}


def _is_byte_piece(piece: str, byte_level: bool) -> bool:
    if _BYTE_PIECE.match(piece):
        return True
    if byte_level and piece and all(ch in _BYTE_LEVEL for ch in piece):
        try:
            piece_bytes(piece, True).decode("utf-8")
        except UnicodeDecodeError:
            return True
    return False
