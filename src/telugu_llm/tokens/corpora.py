"""Parallel corpora for the fertility analysis beside the Samanantar test split: files as given, or
a hub dataset stored one language per configuration (FLORES+, the corpus of Petrov et al.'s
premium table), retrieved once into a resource folder of two line-aligned files and source.json."""

from __future__ import annotations

from pathlib import Path

from ..atomic import atomic_directory, write_json
from ..errors import InputError
from ..hub import join_on, read_rows
from ..resources import SOURCE_JSON, sha256_file

SRC_FILE, TGT_FILE = "src.txt", "tgt.txt"


def one_line(text) -> str:
    """A sentence as one line of a line-aligned file (a line break inside it would shift every pair)."""
    return " ".join(str(text).split())


def fetch_hub_corpus(index: int, spec: dict, out_dir: Path) -> dict:
    """fertility.corpora[index] with source hub: the rows of both configurations in every split,
    joined on spec["key"]; writes src.txt, tgt.txt and source.json (what, where from, how many
    pairs, the ids found on one side only, the files' sha256)."""
    key = f"fertility.corpora[{index}]"
    src, tgt, unmatched, per_split = [], [], {"source_only": 0, "target_only": 0}, {}
    for split in spec["splits"]:
        rows = [read_rows(key, {"repo": spec["repo"], "revision": spec["revision"], "config": spec[config]}, split)
                for config in ("src_config", "tgt_config")]
        pairs, missing = join_on(key, *rows, spec["key"])
        for side, row in (("source", rows[0]), ("target", rows[1])):
            if row and spec["field"] not in row[0]:
                raise InputError(f"{key}.field: the {side} rows have no column {spec['field']!r} "
                                 f"(columns: {', '.join(row[0])})")
        for a, b in pairs:
            src.append(one_line(a[spec["field"]]))
            tgt.append(one_line(b[spec["field"]]))
        per_split[split] = len(pairs)
        for k in unmatched:
            unmatched[k] += len(missing[k])
    if not src:
        raise InputError(f"{key}: no pair of {spec['repo']} {spec['src_config']}/{spec['tgt_config']} shares a "
                         f"{spec['key']!r} in {', '.join(spec['splits'])}")
    with atomic_directory(Path(out_dir)) as tmp:
        for name, lines in ((SRC_FILE, src), (TGT_FILE, tgt)):
            (tmp / name).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        source = {"name": spec["name"], "spec": spec, "pairs": len(src), "pairs_per_split": per_split,
                  "unmatched_ids": unmatched, "sha256": {name: sha256_file(tmp / name) for name in (SRC_FILE, TGT_FILE)}}
        write_json(tmp / SOURCE_JSON, source)
    return source


def corpus_files(spec: dict, resource_dir: Path | None) -> tuple[Path, Path]:
    """The English and the other language's file of a corpus: its own files, or its resource's."""
    if spec["source"] == "file":
        return Path(spec["src"]), Path(spec["tgt"])
    return Path(resource_dir) / SRC_FILE, Path(resource_dir) / TGT_FILE
