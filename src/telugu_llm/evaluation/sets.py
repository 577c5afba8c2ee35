"""Evaluation sets: the project's embedded sets, the Samanantar test split, the study's own probe
prompts, and Hugging Face datasets named in the config, as one table of items.

An item is one instruction (the Human turn, before any model template), its references and what is
measured on it. `lang` is the language the answer should be in (for translation, the target).
Every record is checked; a record that cannot be used (a missing field, an empty reference, a
reference in the wrong script, an answer that is not in its context) is dropped and counted under
its reason in `sets.json`, with the file and line. A set left empty is an error naming the set.

No model is known here, so no prompt length: each (set, task, lang) is written whole (up to
`max_candidates`) in a seeded order, its `rank`, and each evaluation takes the first
`evaluation.max_items` that fit its tokenizer (`order`). A hub split is sampled across the whole
split, by context for extractive QA (`order.UnitSample`); what was read and kept is in
`sets.json` (`hub_sources`).

Every item has a `cluster`: the items that share a source, which an interval must leave out
together (they are not independent): a translation pair's two directions (`<set>:<pair id>`), the
questions of one QA context (`context:<hash of the passage>`); any other item is a cluster of its own
(its id).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from ..atomic import atomic_directory, json_text
from ..data.shards import read_shards
from ..errors import InputError
from ..hub import commit as hub_commit
from ..hub import rows as hub_rows
from ..languages import LANGUAGE_NAMES
from ..tasks import EMBEDDED_TASKS, FIELDS
from .metrics import expected_script, script_fidelity
from .order import UnitSample, ranked

log = logging.getLogger(__name__)

MIN_SCRIPT_SHARE = 0.5  # a reference with fewer of its letters in the expected script is misfiled

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("set", pa.string(), nullable=False),
        pa.field("task", pa.string(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
        pa.field("source_lang", pa.string()),
        pa.field("instruction", pa.string(), nullable=False),
        pa.field("reference", pa.string()),
        pa.field("references", pa.list_(pa.string()), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),  # the seeded order within (set, task, lang)
        pa.field("long_text", pa.string()),  # a set that may be truncated: the document (passage) as in the instruction
        pa.field("cluster", pa.string(), nullable=False),  # items that share a source (`cluster_of`)
    ],
    metadata={"schema": "telugu_llm.evalsets/3"},
)


class Collector:
    """Items kept, and records dropped by reason (with up to five places each)."""

    def __init__(self):
        self.items: list[dict] = []
        self.dropped: dict[str, dict] = {}
        self.sources: dict[str, dict] = {}  # hub sets: repo, revision and the commit read

    def drop(self, reason: str, where: str) -> None:
        entry = self.dropped.setdefault(reason, {"count": 0, "examples": []})
        entry["count"] += 1
        if len(entry["examples"]) < 5:
            entry["examples"].append(where)


def _nfc(text) -> str:
    return unicodedata.normalize("NFC", text)


def script_share(text: str, lang: str) -> float:
    """The reference's script fidelity; a reference without letters (a number) passes."""
    share = script_fidelity(text, lang)
    return 1.0 if math.isnan(share) else share


def instruction_for(instructions: dict, task: str, lang: str) -> str:
    """The phrasing of a task in a language, falling back to English's."""
    table = instructions[task]
    return table.get(lang) or table["en"]


def make_item(record: dict, *, set_name: str, task: str, lang: str, instructions: dict, where: str,
              out: Collector, source_lang: str | None = None, item_id: str | None = None, cut: bool | None = None,
              cluster: str | None = None) -> None:
    """Check one record of a task's format and turn it into an item (or count why not); `cut`: the
    set's `truncate` (a hub set's), which keeps the document (passage) as `long_text`; `cluster`:
    the source it shares with other items (a translation pair), else `cluster_of`'s."""
    need = FIELDS[task]
    missing = [f for f in need if f not in record or record[f] is None]
    if missing:
        out.drop(f"missing field {missing[0]!r}", where)
        return
    values = {}
    for f in need:
        v = record[f]
        if f == "answers":
            if isinstance(v, str):
                v = [v]
            if not isinstance(v, list) or not all(isinstance(a, str) for a in v):
                out.drop("answers is not a list of strings", where)
                return
            v = [_nfc(a).strip() for a in v if a and a.strip()]
            if not v:
                out.drop("empty field 'answers'", where)
                return
        else:
            if not isinstance(v, str):
                out.drop(f"field {f!r} is not a string", where)
                return
            v = _nfc(v)
            if not v.strip():
                out.drop(f"empty field {f!r}", where)
                return
        values[f] = v
    references = {"completion": lambda: [values["reference"]], "qa": lambda: values["answers"],
                  "summarization": lambda: [values["summary"]], "translation": lambda: [values["reference"]]}[task]()
    if any(script_share(r, lang) < MIN_SCRIPT_SHARE for r in references):
        out.drop(f"reference not in the {expected_script(lang)} script of {lang!r}", where)
        return
    if task == "qa" and not all(a in values["context"] for a in references):
        out.drop("answer not found in its context", where)
        return
    phrasing = instruction_for(instructions, task, lang)
    if task == "translation":
        names = LANGUAGE_NAMES.get(lang, LANGUAGE_NAMES["en"])
        names = names if source_lang in names and lang in names else LANGUAGE_NAMES["en"]
        text = phrasing.format(source=names[source_lang], target=names[lang], sentence=values["source"].strip())
    elif task == "completion":
        text = phrasing.format(text=values["text"].rstrip())
    elif task == "qa":
        text = phrasing.format(context=values["context"].strip(), question=values["question"].strip())
    else:
        text = phrasing.format(document=values["document"].strip())
    item_id = item_id or str(record.get("id"))
    out.items.append({"id": item_id, "set": set_name, "task": task, "lang": lang,
                      "source_lang": source_lang, "instruction": text, "reference": references[0].strip(),
                      "references": [r.strip() for r in references], "origin": where,
                      "unit": context_unit(values["context"]) if task == "qa" else None,
                      "long_text": long_text(task, values) if cut else None,
                      "cluster": cluster or cluster_of(task, values.get("context"), item_id)})


def cluster_of(task: str, context: str | None, item_id: str) -> str:
    """The cluster of an item without a pair: its QA context's (whitespace-normalised) hash, else its id."""
    if task == "qa" and context:
        return "context:" + hashlib.sha1(" ".join(context.split()).encode("utf-8")).hexdigest()[:16]
    return item_id


def long_text(task: str, values: dict) -> str | None:
    """The part of a prompt that an evaluation may cut to fit (hub `truncate`), as the instruction holds it."""
    field = {"summarization": "document", "qa": "context"}.get(task)
    return values[field].strip() if field else None


def context_unit(context: str) -> str:
    """The unit of a QA item: its passage (questions of one passage are drawn together)."""
    return "context:" + " ".join(context.split())


def read_jsonl(path: Path, out: Collector, label: str | None = None) -> list[tuple[str, dict]]:
    """(place, record) for each line; lines that are not JSON objects are counted, not fatal."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"evaluation set file {path} does not exist")
    records = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"{label or path.name}:{number}"
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                out.drop("invalid UTF-8", where)
                continue
            except json.JSONDecodeError:
                out.drop("not JSON", where)
                continue
            if not isinstance(record, dict):
                out.drop("not a JSON object", where)
                continue
            records.append((where, record))
    return records


def embedded_items(root: Path, langs: list[str], instructions: dict, out: Collector) -> None:
    root = Path(root)
    for lang in langs:
        for task in EMBEDDED_TASKS:
            path = root / lang / f"{task}.jsonl"
            if not path.exists():
                continue  # the project ships en and te; another language has no embedded sets
            for where, record in read_jsonl(path, out, label=f"{lang}/{path.name}"):
                make_item(record, set_name="embedded", task=task, lang=lang, instructions=instructions,
                          where=where, out=out, item_id=str(record.get("id", where)))
    pairs = root / "translation.jsonl"
    if pairs.exists():
        other = [lang for lang in langs if lang != "en"]
        for where, record in read_jsonl(pairs, out):
            for lang in other:
                for source_lang, target_lang in (("en", lang), (lang, "en")):
                    if source_lang not in record and target_lang not in record:
                        continue
                    make_item({"source": record.get(source_lang), "reference": record.get(target_lang)},
                              set_name="embedded", task="translation", lang=target_lang, source_lang=source_lang,
                              instructions=instructions, where=where, out=out,
                              item_id=f"{record.get('id', where)}-{source_lang}-{target_lang}",
                              cluster=f"embedded:{record.get('id', where)}")


def samanantar_items(shards_dir: Path, lang: str, instructions: dict, out: Collector) -> None:
    for table in read_shards(Path(shards_dir) / "test", columns=["idx", "src", "tgt"]):
        for idx, src, tgt in zip(*(table.column(c).to_pylist() for c in ("idx", "src", "tgt"))):
            for source_lang, target_lang, source, reference in (("en", lang, src, tgt), (lang, "en", tgt, src)):
                make_item({"source": source, "reference": reference}, set_name="samanantar_test", task="translation",
                          lang=target_lang, source_lang=source_lang, instructions=instructions,
                          where=f"samanantar test idx {idx}", out=out, item_id=f"{idx}-{source_lang}-{target_lang}",
                          cluster=f"samanantar_test:{idx}")


def probe_items(path: Path, out: Collector) -> None:
    """The study's prompts, verbatim: the instruction is the prompt as the study wrote it."""
    for where, record in read_jsonl(path, out):
        missing = [f for f in ("id", "task", "lang", "prompt") if not record.get(f)]
        if missing:
            out.drop(f"missing field {missing[0]!r}", where)
            continue
        refs = [_nfc(r) for r in record.get("references") or []]
        out.items.append({"id": record["id"], "set": "study_probes", "task": record["task"], "lang": record["lang"],
                          "source_lang": None, "instruction": _nfc(record["prompt"]), "reference": refs[0] if refs else None,
                          "references": refs, "origin": f"{where} ({record.get('study', '')})", "cluster": record["id"]})


def _field(row: dict, path: str):
    value = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def hub_items(spec: dict, index: int, instructions: dict, out: Collector, max_rows: int, seed: int) -> None:
    """A Hugging Face dataset, its columns mapped to the task's fields by `fields` (dotted paths
    reach into nested columns, e.g. answers.text), sampled across the whole split: up to `max_rows`
    rows, by context for extractive QA (`order.UnitSample`), read as a stream. A parallel corpus
    stored one language per configuration (FLORES+) is sampled on its first configuration and
    joined on `key` with the second; sampled ids without a pair, and ids of the second only, are
    counted as dropped. An item's id is the set's name and the row's number in the split (or its
    `key`): stable across samples."""
    key = f"evaluation.hub[{index}]"
    task = spec["task"]
    unknown = sorted(set(spec["fields"]) - set(FIELDS[task]))
    if unknown:
        raise InputError(f"{key}.fields: {unknown} are not fields of task {task} ({', '.join(FIELDS[task])})")
    own = [c for c in spec["fields"].values() if not c.startswith("pair.")]
    context = spec["fields"].get("context") if task == "qa" else None
    paired = spec.get("pair_config")
    sample, keys = UnitSample(max_rows, seed), {}
    for number, row in enumerate(hub_rows(key, spec, spec["split"], columns=own + ([spec["key"]] if paired else []))):
        ident = row[spec["key"]] if paired else number
        if paired and keys.setdefault(ident, number) != number:
            raise InputError(f"{key}.key: {spec['key']!r} is not unique in {spec['config']} (e.g. {ident!r}); "
                             "rows cannot be paired on it")
        text = _field(row, context) if context and not context.startswith("pair.") else None
        unit = context_unit(text) if isinstance(text, str) and text.strip() else f"id:{spec['name']}-{ident}"
        sample.add(unit, number, row)
    out.sources[spec["name"]] = {"repo": spec["repo"], "revision": spec["revision"], "commit": hub_commit(key, spec),
                                 **{k: spec[k] for k in ("config", "data_dir", "data_files", "pair_config") if spec.get(k)},
                                 **sample.counts()}
    rows = sample.rows()
    if paired:
        columns = [c.removeprefix("pair.") for c in spec["fields"].values() if c.startswith("pair.")]
        wanted, pairs = {row[spec["key"]] for _, row in rows}, {}
        for row in hub_rows(key, {**spec, "config": paired}, spec["split"], columns=columns + [spec["key"]]):
            ident = row[spec["key"]]
            if ident in pairs:
                raise InputError(f"{key}.key: {spec['key']!r} is not unique in {paired} (e.g. {ident!r}); "
                                 "rows cannot be paired on it")
            if ident in wanted:
                pairs[ident] = row
            elif ident not in keys:
                out.drop(f"{spec['name']}: {spec['key']} only in pair_config", f"{key} {spec['key']} {ident}")
        for _, row in rows:
            if row[spec["key"]] not in pairs:
                out.drop(f"{spec['name']}: {spec['key']} only in config", f"{key} {spec['key']} {row[spec['key']]}")
        rows = [(number, {**row, "pair": pairs[row[spec["key"]]]}) for number, row in rows if row[spec["key"]] in pairs]
    for number, row in rows:
        record = {f: _field(row, column) for f, column in spec["fields"].items()}
        make_item(record, set_name=spec["name"], task=task, lang=spec["lang"], source_lang=spec.get("source_lang"),
                  instructions=instructions, where=f"{spec['repo']} {spec['split']} row {number}", out=out,
                  item_id=f"{spec['name']}-{row[spec['key']] if paired else number}", cut=spec["truncate"],
                  cluster=f"{spec['repo']}:{row[spec['key']]}" if paired else None)


def in_order(items: list[dict], max_candidates: int | None, seed: int) -> list[dict]:
    """Every (set, task, lang) in its seeded order (`order.ranked`), cut to `max_candidates`; the
    study's few probes are always kept whole."""
    groups: dict[tuple, list[dict]] = {}
    for item in items:
        groups.setdefault((item["set"], item["task"], item["lang"]), []).append(item)
    chosen = []
    for key in sorted(groups):
        group = ranked(groups[key], seed)
        chosen += group if max_candidates is None or key[0] == "study_probes" else group[:max_candidates]
    return chosen


def build_sets(*, out_dir: Path, lang: str, instructions: dict, max_candidates: int | None, seed: int,
               embedded_root: Path | None, samanantar_dir: Path | None, probes: Path | None, hub: list[dict],
               hub_max_rows: int) -> dict:
    """Write `<out_dir>/<set>.parquet` for every set and `<out_dir>/sets.json` (counts, drops, hub
    rows read and kept). Each (set, task, lang) is written in its seeded order (`rank`), up to
    `max_candidates` items; each evaluation takes from it (module docstring). English and `lang`
    (samanantar.lang) are evaluated; a set whose source is None is not built."""
    langs = ["en", lang]
    out = Collector()
    if embedded_root is not None:
        embedded_items(embedded_root, langs, instructions, out)
    if samanantar_dir is not None:
        samanantar_items(samanantar_dir, lang, instructions, out)
    if probes is not None:
        probe_items(probes, out)
    for i, spec in enumerate(hub):
        hub_items(spec, i, instructions, out, hub_max_rows, seed)
    seen = set()
    for item in out.items:
        key = (item["set"], item["id"])
        if key in seen:
            raise InputError(f"evaluation set {item['set']}: the id {item['id']!r} occurs twice ({item['origin']})")
        seen.add(key)
    available = len(out.items)
    items = in_order(out.items, max_candidates, seed)
    names = sorted({it["set"] for it in items})
    requested = (["embedded"] if embedded_root is not None else []) + (["samanantar_test"] if samanantar_dir is not None else []) \
        + (["study_probes"] if probes is not None else []) + [h["name"] for h in hub]
    empty = [n for n in requested if n not in names]
    if empty:
        raise InputError(f"evaluation set {empty[0]} has no usable item "
                         f"(dropped: {json.dumps({k: v['count'] for k, v in out.dropped.items()}, ensure_ascii=False)})")
    summary = {"items_available": available, "items_selected": len(items), "max_candidates": max_candidates, "seed": seed,
               "sets": {}, "dropped": out.dropped, "hub_sources": out.sources}
    with atomic_directory(Path(out_dir)) as tmp:
        for name in names:
            rows = [it for it in items if it["set"] == name]
            pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp / f"{name}.parquet", compression="zstd")
            counts: dict[str, int] = {}
            for it in rows:
                counts[f"{it['task']}/{it['lang']}"] = counts.get(f"{it['task']}/{it['lang']}", 0) + 1
            summary["sets"][name] = counts
        (tmp / "sets.json").write_text(json_text(summary), encoding="utf-8")
    for reason, entry in out.dropped.items():
        log.warning("dropped %d evaluation records: %s (e.g. %s)", entry["count"], reason, ", ".join(entry["examples"]))
    return summary


def read_sets(directory: Path) -> pa.Table:
    tables = [pq.read_table(p) for p in sorted(Path(directory).glob("*.parquet"))]
    if not tables:
        raise InputError(f"no evaluation sets in {directory}")
    return pa.concat_tables(tables)
