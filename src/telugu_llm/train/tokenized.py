"""The training data of a run, tokenized once, outside the training job (pitfall 27).

A run's formatted examples (prompt, completion) are tokenized as the template says
(`prompts.formats.tokenize_examples`: one BOS, EOS last, prompt masked), checked for those
invariants, made as the run's recipe says (`recipe_example`), and written as int32 Arrow streams
(`train.arrow`, `validation.arrow`) in batches: memory is one batch, not the split. The training job
memory-maps them (`datasets.Dataset.from_file`), on every rank, without copying or tokenizing again.

A cap on examples (`max_train_examples`, `max_eval_examples`) is a seeded sample of whole sources
(both directions of a Samanantar pair, every example of a conversation), never a head slice: a prompt
file holds a shard's en->te rows before its te->en ones (pitfall 25). Validation is that sample,
both during training and for `validation_losses.csv`.

A model and its extended twin train on the same examples (issue 21): every run of either is
tokenized with the other's tokenizer too (`partners`), and an example that one of them drops as too
long is dropped by both, counted as `dropped_by_partner` (the base tokenizer spends more tokens on
Telugu, so it drops more; without this the twin would also train on the longest pairs). Which
examples a partner dropped is recorded as a sha256 of their positions (`partner_drops_sha256`), so
that the checkpoint fingerprint, which reads `tokenized.json`, changes with them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..atomic import atomic_directory, write_json
from ..prompts.formats import IGNORE_INDEX, STUDY_TEMPLATES, check_example, tokenize_examples
from ..resources import sha256_file

SPLITS = ("train", "validation")
TOKENIZED_JSON = "tokenized.json"
SCHEMA = pa.schema([pa.field("input_ids", pa.list_(pa.int32())), pa.field("labels", pa.list_(pa.int32())),
                    pa.field("length", pa.int32())])  # `length`: what group_by_length reads, without decoding rows
BATCH_ROWS = 4096


@dataclass(frozen=True)
class LengthRecipe:
    """The choices of a recipe (`train.settings.Recipe`) that make its examples; a `Recipe` serves too.
    The others (packing, precision) are the trainer's, so editing them tokenizes nothing again."""

    name: str
    loss: str
    pad_token: str
    long_examples: str
    append_eos: bool


TOKENIZATION_FIELDS = ("loss", "pad_token", "long_examples", "append_eos")


def recipe_example(ids: list[int], labels: list[int], *, recipe: LengthRecipe, eos_id: int,
                   max_length: int) -> tuple[list[int], list[int], str]:
    """An example as `prompts.formats.tokenize_example` makes it (BOS, prompt masked, EOS last) made
    as the recipe says; and what its length did: "kept", "cut" (keep_eos or truncate) or "dropped"
    (then the lists are empty; also an example left with no trained token). The order: EOS removed if not appended, the loss widened to every
    token, the length handled, then the pad id (EOS, under `pad_token: eos`) left out of the loss,
    as the data collator of the study's time did with every pad id."""
    n_prompt = labels.count(IGNORE_INDEX)  # BOS and prompt, whatever the loss
    if not recipe.append_eos:
        ids, labels = ids[:-1], labels[:-1]
    if recipe.loss == "full_text":
        labels = list(ids)
    status = "kept"
    if len(ids) > max_length:
        if recipe.long_examples == "truncate":
            ids, labels, status = ids[:max_length], labels[:max_length], "cut"
        elif recipe.long_examples == "keep_eos" and recipe.append_eos and n_prompt < max_length - 1:
            ids, labels, status = ids[: max_length - 1] + [ids[-1]], labels[: max_length - 1] + [labels[-1]], "cut"
        else:
            return [], [], "dropped"
    if recipe.pad_token == "eos":
        labels = [IGNORE_INDEX if token == eos_id else label for token, label in zip(ids, labels)]
    if all(label == IGNORE_INDEX for label in labels[1:]):  # nothing left to learn (a cut inside the prompt)
        return [], [], "dropped"
    return ids, labels, status


def sampled_rows(parquet: Path, limit: int | None, seed: int) -> np.ndarray | None:
    """The rows of a prompt file that a cap of `limit` examples keeps, in file order; None for all.
    Whole sources are drawn in a seeded order (the `source_id` column: a Samanantar pair's two
    directions, a conversation's examples) while they fit the cap, so both directions are sampled
    alike and a pair is never split; a file without sources draws rows."""
    parquet = Path(parquet)
    n = pq.ParquetFile(parquet).metadata.num_rows
    if limit is None or limit >= n:
        return None
    rng = np.random.default_rng(seed)
    if "source_id" not in pq.ParquetFile(parquet).schema_arrow.names:
        return np.sort(rng.choice(n, size=limit, replace=False))
    codes = pc.dictionary_encode(pq.read_table(parquet, columns=["source_id"]).column("source_id")).combine_chunks()
    groups = codes.indices.to_numpy(zero_copy_only=False)
    order = rng.permutation(len(codes.dictionary))
    sizes = np.bincount(groups, minlength=len(order))[order]
    taken = max(1, int(np.searchsorted(np.cumsum(sizes), limit, side="right")))
    return np.flatnonzero(np.isin(groups, order[:taken]))


def partner_drops(partners: list, prompts: list[str], completions: list[str], *, recipe: LengthRecipe,
                  max_length: int) -> set[int]:
    """The examples (positions) that some partner tokenizer drops under the same recipe and length."""
    dropped = set()
    for partner in partners:
        for k, (ids, labels) in enumerate(tokenize_examples(partner, prompts, completions)):
            if recipe_example(ids, labels, recipe=recipe, eos_id=partner.eos_token_id, max_length=max_length)[2] == "dropped":
                dropped.add(k)
    return dropped


def tokenize_split(tokenizer, parquet: Path, out_path: Path, *, template: str, max_length: int, recipe: LengthRecipe,
                   limit: int | None, seed: int, partners: list = ()) -> dict:
    """Tokenize one prompt file into an Arrow stream at `out_path`, batch by batch; what was kept,
    dropped or cut for length (here, or by a partner: module docstring), and what a cap left out."""
    source = pq.ParquetFile(parquet)
    rows = sampled_rows(parquet, limit, seed)
    single_bos, eos_id = template in STUDY_TEMPLATES, tokenizer.eos_token_id
    counts = {"examples": source.metadata.num_rows if rows is None else len(rows),
              "not_sampled": 0 if rows is None else source.metadata.num_rows - len(rows),
              "kept": 0, "dropped_too_long": 0, "dropped_by_partner": 0, "cut": 0, "tokens": 0}
    status_key = {"kept": "kept", "cut": "cut", "dropped": "dropped_too_long"}
    offset, position, by_partner = 0, 0, hashlib.sha256()
    with pa.OSFile(str(out_path), "wb") as sink, pa.ipc.new_stream(sink, SCHEMA) as writer:
        for batch in source.iter_batches(batch_size=BATCH_ROWS, columns=["prompt", "completion"]):
            if rows is not None:
                inside = rows[(rows >= offset) & (rows < offset + batch.num_rows)] - offset
                offset += batch.num_rows
                batch = batch.take(pa.array(inside, pa.int64()))
            if not batch.num_rows:
                continue
            ids_out, labels_out = [], []
            prompts, completions = batch.column("prompt").to_pylist(), batch.column("completion").to_pylist()
            elsewhere = partner_drops(partners, prompts, completions, recipe=recipe, max_length=max_length)
            for k, (ids, labels) in enumerate(tokenize_examples(tokenizer, prompts, completions)):
                check_example(tokenizer, ids, labels, single_bos=single_bos)
                ids, labels, status = recipe_example(ids, labels, recipe=recipe, eos_id=eos_id, max_length=max_length)
                if status != "dropped" and k in elsewhere:
                    ids, labels, status = [], [], "dropped"
                    counts["dropped_by_partner"] += 1
                    by_partner.update(f"{position + k},".encode())
                else:
                    counts[status_key[status]] += 1
                if status != "dropped":
                    ids_out.append(ids)
                    labels_out.append(labels)
            position += batch.num_rows
            if ids_out:
                lengths = [len(ids) for ids in ids_out]
                counts["tokens"] += sum(lengths)
                writer.write_batch(pa.record_batch([pa.array(ids_out, pa.list_(pa.int32())),
                                                    pa.array(labels_out, pa.list_(pa.int32())),
                                                    pa.array(lengths, pa.int32())], schema=SCHEMA))
    return {**counts, "partner_drops_sha256": by_partner.hexdigest()} if partners else counts


def tokenize_run(tokenizer, *, prompts_dir: Path, out_dir: Path, template: str, max_length: int, recipe: LengthRecipe,
                 max_train_examples: int | None, max_eval_examples: int | None, seed: int, partners: list = ()) -> dict:
    """A run's training and validation examples, tokenized (`tokenize_split`) into `out_dir`
    (written whole or not at all), with `tokenized.json`: the counts, the settings and the sha256 of
    each prompt file, which a run's checkpoint fingerprint reads instead of hashing the data again.
    `partners`: the tokenizers of the run's vocabulary pair (module docstring)."""
    prompts_dir = Path(prompts_dir)
    limits = {"train": max_train_examples, "validation": max_eval_examples}
    record = {"template": template, "max_length": max_length, "recipe": recipe.name, "sample_seed": seed,
              "limits": limits, "partners": [Path(p.name_or_path).name for p in partners], "splits": {}}
    with atomic_directory(Path(out_dir)) as tmp:
        for split in SPLITS:
            parquet = prompts_dir / f"{split}.parquet"
            counts = tokenize_split(tokenizer, parquet, tmp / f"{split}.arrow", template=template, max_length=max_length,
                                    recipe=recipe, limit=limits[split], seed=seed, partners=partners)
            record["splits"][split] = {**counts, "prompts_sha256": sha256_file(parquet)}
        write_json(tmp / TOKENIZED_JSON, record)
    return record


def load_split(tokenized_dir: Path, split: str):
    """A tokenized split as a `datasets.Dataset` memory-mapped from its Arrow stream (no copy), or None
    when it holds no example."""
    from datasets import Dataset

    path = Path(tokenized_dir) / f"{split}.arrow"
    dataset = Dataset.from_file(str(path))
    return dataset if len(dataset) else None
