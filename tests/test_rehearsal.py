"""The rehearsal of the study (bench/rehearse.py, `make rehearse`): the model replicas it serves,
and, marked `workflow`, the controlled variant run end to end against the local hub."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hub_replicas import DECOYS, STUDY_MODELS, model

from telugu_llm.config import with_defaults

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))


@pytest.mark.parametrize("repo", sorted(STUDY_MODELS))
def test_a_study_model_replica_is_fetched_as_the_real_checkpoint_is(hub, tmp_path, monkeypatch, repo):
    from telugu_llm.train.weights import build_model

    architecture, gated = STUDY_MODELS[repo]
    spec = with_defaults(model(hub.root, repo, architecture, gated=gated), "$defs/weights")
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    meta = build_model("m", spec, tmp_path / "model")
    fetched = sorted(path.rsplit("/", 1)[-1] for method, path, status in hub.log if method == "GET" and "/resolve/" in path)
    assert fetched == ["config.json", "generation_config.json", "model-00001-of-00002.safetensors",
                       "model-00002-of-00002.safetensors", "model.safetensors.index.json"]
    assert not set(DECOYS) & {p.name for p in (tmp_path / "model").rglob("*")}
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert meta["architecture"] == {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM"}[architecture]
    assert (config["vocab_size"], config["tie_word_embeddings"], config["bos_token_id"], config["eos_token_id"]) == (
        32000, False, 1, 2)
    if architecture == "mistral":
        assert config["num_key_value_heads"] < config["num_attention_heads"] and config["sliding_window"] == 64
    generation = json.loads((tmp_path / "model" / "generation_config.json").read_text())
    assert generation["eos_token_id"] == 2 and generation.get("do_sample", False) == (architecture == "llama")


def test_a_gated_study_model_refuses_without_the_token(hub, tmp_path):
    from telugu_llm.errors import InputError
    from telugu_llm.train.weights import build_model

    spec = with_defaults(model(hub.root, "mistralai/Mistral-7B-Instruct-v0.1", "mistral", gated=True), "$defs/weights")
    with pytest.raises(InputError, match="is gated"):
        build_model("mistral_7b_instruct", spec, tmp_path / "model")


def test_the_rehearsal_counts_finished_jobs_rule_by_rule():
    from rehearse import finished_jobs, job_table

    log = ("Job stats:\njob        count\n-------  -------\ntrain_run        2\nreport     1\ntotal      3\n"
           "Finished jobid: 3 (Rule: train_run)\nFinished jobid: 1 (Rule: train_run)\nFinished jobid: 0 (Rule: report)\n")
    assert job_table(log) == {"train_run": 2, "report": 1}
    assert finished_jobs(log) == {"train_run": 2, "report": 1}


# The slice of the controlled variant that CI runs (20 jobs; the whole rehearsal, `make rehearse`,
# runs 140 and 65 jobs): the data, tokenizer and weights jobs
# both models need, both vocabulary twins and the curve, and for each model one run trained with two
# processes through torchrun and evaluated on every set (an extended twin's for Llama-2, which
# paper.yaml's adapt.instruction_tuning starts from its adaptation: one adapt_run).
CI_SLICE = ["results/vocab/curve.csv", "results/eval/mistral_7b_instruct/samanantar/corrected/40/seed1/metrics.json",
            "results/eval/llama2_7b_chat_te400/samanantar/corrected/40/seed1/metrics.json"]


@pytest.mark.workflow
def test_a_slice_of_the_controlled_rehearsal_runs_every_job_it_plans(tmp_path):
    from rehearse import main

    assert main(["--variant", "controlled", "--workdir", str(tmp_path), "--targets", *CI_SLICE]) == 0
    report = json.loads((REPO / "bench" / "out" / "rehearsal.json").read_text())
    (result,) = report["variants"]
    assert result["finished_total"] == result["planned_total"] == 20 and not report["decoys_fetched"]
    assert result["planned"]["adapt_run"] == 1
    assert result["planned"]["train_run"] == result["planned"]["tokenize_run"] == 2 and result["planned"]["vocab_extend"] == 2
    assert {rule for rule, _ in report["job_times"]} >= {"model_weights", "train_run", "evaluate_run", "vocab_curve"}
