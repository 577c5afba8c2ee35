"""The cost plan (telugu_llm.plan): tokens per example as training makes them, batches as the trainer
pads or packs them, GPU-hours at the throughput table's figures, train.skip, and train_run's
runtime read from the plan (a dry run)."""

from __future__ import annotations

import csv
import math
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from conftest import snakemake
from telugu_llm.config import with_defaults
from telugu_llm.errors import InputError
from telugu_llm.plan.batches import padded_batches
from telugu_llm.plan.cost import FINAL_PASSES, Counts, epoch_seconds, plan_run
from telugu_llm.plan.grid import check_estimate, check_skip, fingerprint, planned_runtime, skipped
from telugu_llm.plan.lengths import Lengths, Sample, read_sample, recipe_lengths, sample_indices
from telugu_llm.plan.throughput import throughput
from telugu_llm.prompts.formats import IGNORE_INDEX
from telugu_llm.train.settings import Recipe

PLAN = with_defaults({}, "plan")


def recipe(**values) -> Recipe:
    base = {"name": "r", "loss": "completion", "pad_token": "distinct", "long_examples": "drop", "packing": False,
            "mixed_precision": "auto", "compute_dtype": "prefer_bfloat16", "append_eos": True}
    return Recipe(**{**base, **values})


def test_skip_matches_a_run_on_every_dimension_it_names():
    run = {"model": "m", "dataset": "samanantar", "recipe": "study", "subset": "100000", "seed": 2}
    assert skipped(run, [{"subset": [100000, 1000000], "seed": [2, 3]}])
    assert skipped(run, [{"recipe": "corrected"}, {"model": "m", "subset": 100000}])
    assert not skipped(run, [{"subset": 100000, "seed": 1}])
    assert not skipped(run, [])


def test_a_skip_value_the_config_does_not_define_is_named():
    known = {"model": {"m"}, "dataset": {"samanantar"}, "recipe": {"study"}, "subset": {"10000", "100000"}, "seed": None}
    check_skip([{"subset": [10000, 100000], "seed": 7}], known)
    with pytest.raises(InputError, match=r"train.skip\[1\].subset: 1000 is not a subset of the config \(10000, 100000\)"):
        check_skip([{"seed": 1}, {"subset": [1000, 10000]}], known)


def test_an_estimate_of_a_subset_that_is_not_built_is_named():
    check_estimate(None, [50])
    check_estimate({"samanantar_subset": 50}, [50, 100])
    with pytest.raises(InputError, match=r"plan.estimate.samanantar_subset: 60 is not one of samanantar.subsets \[50, 100\]"):
        check_estimate({"samanantar_subset": 60}, [50, 100])


def test_the_sample_is_seeded_and_read_across_row_groups(tmp_path):
    rows = 95
    table = pa.table({"prompt": [f"p{i}" for i in range(rows)], "completion": [f"c{i}" for i in range(rows)]})
    pq.write_table(table, tmp_path / "train.parquet", row_group_size=10)
    total, pairs = read_sample(tmp_path / "train.parquet", 20, seed=7)
    wanted = sample_indices(rows, 20, 7)
    assert total == rows and len(set(wanted)) == 20
    assert pairs == [(f"p{i}", f"c{i}") for i in wanted]
    assert read_sample(tmp_path / "train.parquet", 200, seed=7)[1] == list(zip(table["prompt"].to_pylist(),
                                                                              table["completion"].to_pylist()))


def test_lengths_follow_the_recipe_cut_or_drop_and_the_eos():
    eos = 2
    short = ([1, 5, 6, 7, eos], [IGNORE_INDEX, IGNORE_INDEX, 6, 7, eos])
    long = ([1, 5] + [9] * 10 + [eos], [IGNORE_INDEX, IGNORE_INDEX] + [9] * 10 + [eos])
    sample = Sample(rows=2, examples=[short, long])
    kept = recipe_lengths(sample, recipe=recipe(), eos_id=eos, max_length=8)
    assert list(kept.kept) == [5] and kept.dropped == 1 and kept.kept_share == 0.5
    cut = recipe_lengths(sample, recipe=recipe(long_examples="truncate", append_eos=False), eos_id=eos, max_length=8)
    assert list(cut.kept) == [4, 8] and cut.cut == 1  # EOS not appended: one token fewer


def test_padding_is_counted_to_the_longest_of_each_batch():
    lengths = np.array([100, 10, 100, 10, 100, 10, 100, 10])
    grouped = padded_batches(lengths, 2, group_by_length=True, seed=1)
    assert grouped.processed.sum() == 4 * 100 + 4 * 10  # sorted in its megabatch: no padding
    shuffled = padded_batches(lengths, 2, group_by_length=False, seed=1)
    assert shuffled.processed.sum() >= grouped.processed.sum()
    assert shuffled.processed.sum() == sum(2 * max(pair) for pair in np.random.default_rng(1).permutation(lengths)
                                           .reshape(-1, 2).tolist())


def test_the_step_model_reproduces_the_h200_figures_it_was_built_from():
    llama = throughput(PLAN, "llama")
    assert llama.gpu == "h200" and "5,610" in llama.source
    assert llama.step_seconds(2048) == pytest.approx(0.365, abs=0.001)  # perf.md: 0.365 s/step
    assert 8192 / llama.step_seconds(8192) == pytest.approx(8533, rel=0.02)  # batch 16: 8,533 tokens/s
    mistral = throughput(PLAN, "mistral")
    assert mistral.step_seconds(6144) == pytest.approx(1.032, abs=0.001)
    assert throughput(PLAN, "gemma3_text").key == "default"


def test_the_step_model_reproduces_the_real_length_figure_it_was_not_built_from():
    """perf.md: FLORES-200 en->te examples under Llama-2's tokenizer (mean 353 tokens, median 359, 95th
    percentile 587, 12 % over 512), padded per batch of 4 in random order: 3,890 non-padding tokens/s."""
    lengths = np.clip(np.random.default_rng(0).normal(353, 140, 40_000).round(), 20, 1024).astype(np.int64)
    assert np.percentile(lengths, 95) == pytest.approx(587, rel=0.02) and (lengths > 512).mean() == pytest.approx(0.12, abs=0.01)
    mean, _, _, processed = epoch_seconds(lengths, batch_size=4, group_by_length=True, seed=1, tp=throughput(PLAN, "llama"))
    assert lengths.mean() / mean == pytest.approx(3890, rel=0.03)
    assert processed < padded_batches(lengths, 4, group_by_length=False, seed=1).processed.sum() / len(lengths)


def test_an_unknown_gpu_kind_is_named():
    with pytest.raises(InputError, match="plan.gpu: 'a100' has no table under plan.throughput"):
        throughput({**PLAN, "gpu": "a100"}, "llama")


def settings(**training) -> dict:
    base = {"epochs": 1, "max_steps": -1, "batch_size": 4, "eval_batch_size": 4, "gradient_accumulation_steps": 1,
            "group_by_length": False, "logging_steps": 25, "eval_steps": 100, "max_train_examples": None,
            "max_eval_examples": 40}
    return {"training": {**base, **training}, "recipe": {"packing": False}, "max_length": 1000, "processes": 1}


RUN = {"model": "m", "dataset": "samanantar", "recipe": "corrected", "subset": "10000", "seed": 1}


def test_a_run_of_equal_examples_costs_its_steps_at_the_step_model():
    tp = throughput(PLAN, "llama")
    lengths = Lengths(sampled=50, kept=np.full(50, 100), cut=0, dropped=0)
    row = plan_run(RUN, settings=settings(epochs=2), train=lengths, validation=lengths,
                   counts=Counts(1000, 80, estimated=False), tp=tp, eval_speedup=3.0, seed=1)
    assert row["steps"] == 2 * 250 and row["tokens"] == 2 * 1000 * 100 and row["padding_share"] == 0
    evaluations = 1 + 500 // 100 + FINAL_PASSES
    assert row["evaluations"] == evaluations and row["eval_examples"] == 40
    train = 500 * tp.step_seconds(400) / 3600
    validation = evaluations * 10 * tp.step_seconds(400) / 3.0 / 3600
    assert row["train_hours"] == pytest.approx(train, abs=1e-3)
    assert row["gpu_hours"] == pytest.approx(train + validation, abs=1e-3)
    assert row["gpu_hours_low"] == pytest.approx(row["gpu_hours"], abs=1e-3)  # no spread in the lengths


def test_validation_follows_the_run_length_where_evaluations_is_set():
    lengths = Lengths(sampled=50, kept=np.full(50, 100), cut=0, dropped=0)
    row = plan_run(RUN, settings=settings(eval_steps=None, evaluations=5), train=lengths, validation=lengths,
                   counts=Counts(1000, 80, estimated=False), tp=throughput(PLAN, "llama"), eval_speedup=3.0, seed=1)
    assert row["steps"] == 250 and row["evaluations"] == 1 + 5 + FINAL_PASSES  # every 50 steps
    row = plan_run(RUN, settings=settings(eval_steps=None), train=lengths, validation=lengths,
                   counts=Counts(1000, 80, estimated=False), tp=throughput(PLAN, "llama"), eval_speedup=3.0, seed=1)
    assert row["evaluations"] == 1 + 250 // 25 + FINAL_PASSES  # every logging_steps (25)


def test_a_packed_run_processes_full_rows_at_the_packed_figure():
    tp = throughput(PLAN, "llama")
    lengths = Lengths(sampled=50, kept=np.full(50, 100), cut=0, dropped=0)
    packed = {**settings(), "recipe": {"packing": True}}
    row = plan_run(RUN, settings=packed, train=lengths, validation=lengths, counts=Counts(1000, 0, estimated=False),
                   tp=tp, eval_speedup=3.0, seed=1)
    assert row["processed_tokens"] == 100 * 1000 and row["steps"] == math.ceil(100 / 4)
    assert row["gpu_hours"] == pytest.approx(100_000 / 5732 / 3600, abs=1e-3)
    assert "packed" in row["throughput_source"] and row["eval_hours"] == 0


def test_the_runtime_is_the_planned_row_of_the_run_and_its_settings(tmp_path):
    path = tmp_path / "cost.csv"
    settings_print = fingerprint({"a": 1})
    assert planned_runtime(path, RUN, settings_print, margin=1.5, fallback=120) == 120  # no plan yet
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*RUN, "wall_hours", "fingerprint"])
        writer.writeheader()
        writer.writerow({**RUN, "wall_hours": 2.0, "fingerprint": settings_print})
    assert planned_runtime(path, RUN, settings_print, margin=1.5, fallback=120) == 180
    assert planned_runtime(path, RUN, fingerprint({"a": 2}), margin=1.5, fallback=120) == 120  # a stale plan
    assert planned_runtime(path, {**RUN, "seed": 2}, settings_print, margin=1.5, fallback=120) == 120


def train_runtime(workflow, target, *configs) -> int:
    args = [a for c in configs for a in ("--configfile", c)]
    out = snakemake(workflow, "-n", "--cores", "1", target, *args).stdout
    block = out[out.index("rule train_run:"):]
    return int(re.search(r"runtime=(\d+)", block).group(1))


def test_train_run_reads_its_runtime_from_the_plan(workflow):
    """`snakemake plan` writes a row per run of train_runs(); a dry run of a training job on a GPU then
    asks for the planned minutes times plan.margin, and for models.<name>.resources.runtime without a
    plan, with a plan of other settings, or on a CPU."""
    config = workflow / "one.yaml"
    config.write_text(yaml.safe_dump({"plan": {"margin": 2.0}, "train": {"device": "cuda"}}))
    target = "results/train/gemma3_270m/samanantar/corrected/200/seed42/metrics.json"
    spec = yaml.safe_load((workflow / "config" / "config.yaml").read_text())["models"]["gemma3_270m"]
    fallback = with_defaults(spec, "$defs/model")["resources"]["runtime"]
    assert train_runtime(workflow, target, str(config)) == fallback
    snakemake(workflow, "--cores", "1", "plan", "--configfile", str(config))
    with (workflow / "results" / "plan" / "cost.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    runs = {(r["model"], r["recipe"], r["subset"], r["seed"]) for r in rows}
    assert runs == {("gemma3_270m", "corrected", "200", "42"), ("gemma3_270m", "study", "200", "42"),
                    ("smollm2_135m", "corrected", "200", "42"), ("smollm2_135m_te400", "corrected", "200", "42")}
    assert all(float(r["gpu_hours"]) > 0 and int(r["tokens"]) > 0 for r in rows)
    for row in rows:  # a plan of long runs
        row["wall_hours"] = "3.0"
    with (workflow / "results" / "plan" / "cost.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert train_runtime(workflow, target, str(config)) == 3 * 60 * 2
    edited = workflow / "edited.yaml"
    edited.write_text(yaml.safe_dump({"models": {"gemma3_270m": {"training": {"learning_rate": 0.002}}}}))
    assert train_runtime(workflow, target, str(config), str(edited)) == fallback
    cpu = workflow / "cpu.yaml"
    cpu.write_text(yaml.safe_dump({"train": {"device": "cpu"}}))
    assert train_runtime(workflow, target, str(config), str(cpu)) == fallback  # H200 hours say nothing of a CPU


def test_a_mistyped_skip_fails_before_any_job_naming_the_key(workflow):
    config = workflow / "typo.yaml"
    config.write_text(yaml.safe_dump({"train": {"skip": [{"subset": 20}]}}))
    proc = snakemake(workflow, "--cores", "1", "--configfile", str(config), check=False)
    assert proc.returncode != 0
    assert "config key train.skip[0].subset: 20 is not a subset of the config (100, 200, 50, all)" in proc.stdout + proc.stderr
    assert not (workflow / "results").exists()
