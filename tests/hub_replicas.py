"""Small replicas of the hub repositories that config/paper.yaml names, in the file layout the hub
serves them in today (checked against the hub's file listings in November 2026), for the local hub
of tests/hubserver.py. Each function writes one repository under `root` and returns what a config
entry reads it with."""

from __future__ import annotations

import json

from hubserver import add_file, add_parquet, set_gated

PARQUET_EXPORT = "refs/convert/parquet"


def samanantar(root, columns: dict, *, lang: str = "te") -> dict:
    """ai4bharat/samanantar: Parquet, one configuration per language declared in the README
    (`configs:`), split train; columns idx, src, tgt (no data_source since its Parquet conversion)."""
    readme = ("---\nlicense: cc-by-nc-4.0\nconfigs:\n"
              + "".join(f"- config_name: {code}\n  data_files:\n  - split: train\n    path: {code}/train-*\n"
                        for code in sorted({"as", lang}))
              + "---\n# Samanantar\n")
    add_file(root, "ai4bharat/samanantar", "README.md", readme)
    add_parquet(root, "ai4bharat/samanantar", f"{lang}/train-00000-of-00001.parquet", columns)
    if lang != "as":
        add_parquet(root, "ai4bharat/samanantar", "as/train-00000-of-00001.parquet", {k: v[:1] for k, v in columns.items()})
    return {"repo": "ai4bharat/samanantar", "revision": "main"}


def guanaco(root, train: list[str], test: list[str]) -> dict:
    """timdettmers/openassistant-guanaco: two JSON-lines files, no `configs:`; datasets names the
    splits from the file names (eval -> test)."""
    add_file(root, "timdettmers/openassistant-guanaco", "README.md", "---\nlicense: apache-2.0\n---\n# Guanaco\n")
    for name, texts in (("train", train), ("eval", test)):
        add_file(root, "timdettmers/openassistant-guanaco", f"openassistant_best_replies_{name}.jsonl",
                 "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts))
    return {"repo": "timdettmers/openassistant-guanaco", "revision": "main", "splits": ["train", "test"]}


def flores_plus(root, by_config: dict, *, gated: bool = True) -> dict:
    """openlanguagedata/flores_plus: gated; one configuration per language (README `configs:`),
    splits dev and devtest, columns id, iso_639_3, iso_15924, glottocode, text, ..."""
    readme = "---\nlicense: cc-by-sa-4.0\nconfigs:\n"
    for config, splits in sorted(by_config.items()):
        readme += f"- config_name: {config}\n  data_files:\n"
        for split, rows in splits.items():
            readme += f"  - split: {split}\n    path: {split}/{config}.parquet\n"
            add_parquet(root, "openlanguagedata/flores_plus", f"{split}/{config}.parquet",
                        {"id": [r["id"] for r in rows], "iso_639_3": [config[:3]] * len(rows),
                         "iso_15924": [config[4:]] * len(rows), "text": [r["text"] for r in rows]})
    add_file(root, "openlanguagedata/flores_plus", "README.md", readme + "---\n# FLORES+\n")
    if gated:
        set_gated(root, "openlanguagedata/flores_plus")
    return {"repo": "openlanguagedata/flores_plus", "revision": "main"}


def script_only_with_export(root, repo: str, script: str, exported: dict) -> None:
    """A repository holding only a loading script on main (csebuetnlp/xlsum, ai4bharat/IndicQA),
    and the hub's Parquet export of it: <configuration>/<split>/0000.parquet, no README."""
    add_file(root, repo, "README.md", "---\nlicense: cc-by-nc-sa-4.0\n---\n")
    add_file(root, repo, script, "import datasets\n")
    for path, columns in exported.items():
        add_parquet(root, repo, f"{path}/0000.parquet", columns, revision=PARQUET_EXPORT)
