"""Initialisations of an extended model's new rows, compared by the adaptation stage (adapt.inits).

- `mean`: each new row the mean of the rows of the base pieces that spell it (Hewitt 2021; the
  vocabulary stage's own, `vocab.embeddings.mean_parts`). Tejaswi, Gupta and Choi (2024) find this
  simplest initialisation works across languages.
- `overlap`: each new row a weighted mean of the rows of every base piece whose text occurs inside
  the new piece's text, weighted by the length of that overlap in bytes: the base's own spelling
  and every longer or alternative piece that covers part of it (a character piece beside its
  bytes, a two-character piece across a spelling boundary). It follows the idea of FVT and
  FOCUS (Gee et al. 2022; Dobler and de Melo 2023: new rows from the base rows of overlapping
  pieces) without their auxiliary embeddings, which are not available offline; longer overlaps
  weigh more because they carry more of the piece's meaning than a single byte.
"""

from __future__ import annotations

import json

from ..errors import InputError
from ..tokens.tokenizer import piece_bytes
from ..vocab.embeddings import mean_parts

INITS = ("mean", "overlap")


def _byte_level(tokenizer_json: dict) -> bool:
    return "ByteLevel" in json.dumps(tokenizer_json.get("decoder") or {})


def overlap_parts(tokenizer_json: dict, extension: dict) -> list[list[tuple[int, float]]]:
    """Each new piece's base rows and weights under `overlap` (see the module): every base id whose
    bytes occur in the piece's bytes, weighted by their length, normalised to sum to 1; a byte
    string that several base ids stand for (a byte piece and a one-byte character) is the first
    id's. Added (special) tokens are never parts."""
    byte_level = _byte_level(tokenizer_json)
    first = extension["first_new_id"]
    special = {t["id"] for t in tokenizer_json.get("added_tokens", [])}
    vocab = tokenizer_json["model"]["vocab"]
    by_bytes: dict[bytes, int] = {}
    for piece, i in sorted(vocab.items(), key=lambda item: item[1]):
        if i < first and i not in special:
            by_bytes.setdefault(piece_bytes(piece, byte_level), i)
    longest = max(map(len, by_bytes))
    out = []
    for piece, split in zip(extension["pieces"], extension["base_splits"]):
        data = piece_bytes(piece, byte_level)
        found = [(by_bytes[data[a:b]], b - a) for a in range(len(data))
                 for b in range(a + 1, min(len(data), a + longest) + 1) if data[a:b] in by_bytes]
        if not found:  # no base piece inside it (cannot happen with byte fallback): its spelling
            found = [(i, 1) for i in split]
        total = sum(w for _, w in found)
        out.append([(i, w / total) for i, w in found])
    return out


def init_parts(init: str, tokenizer_json: dict, extension: dict) -> list[list[tuple[int, float]]]:
    """The new rows' parts under `init` (adapt.inits)."""
    if init == "mean":
        return mean_parts(extension)
    if init == "overlap":
        return overlap_parts(tokenizer_json, extension)
    raise InputError(f"adapt.inits: unknown initialisation {init!r}; use one of {', '.join(INITS)}")
