"""Generation and evaluation on tiny random models with the real Llama-2 tokenizer: stop handling on
a model that writes template markers, left padding, reference likelihoods, and a whole evaluation
of a base model and an adapter that changes nothing (every paired difference is exactly zero)."""

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from telugu_llm.config import with_defaults
from telugu_llm.settings import from_dict
from telugu_llm.evaluation.generation import finish, generate, reference_nll
from telugu_llm.evaluation.run import evaluate
from telugu_llm.evaluation.scoring import score_item
from telugu_llm.evaluation.sets import build_sets
from telugu_llm.evaluation.settings import GenerationSettings, SummarySettings
from telugu_llm.evaluation.summary import COLUMNS, summarize
from telugu_llm.loading import Quantization, load_tokenizer, set_pad_token
from telugu_llm.train.weights import build_model

from test_evalsets import INSTRUCTIONS

REPO = Path(__file__).resolve().parents[1]
DEFAULTS = with_defaults({}, "evaluation")


GREEDY = {"do_sample": False, "temperature": 1.0, "top_p": 1.0, "seed": 0, "markers": DEFAULTS["markers"]}


def evaluation_config(**values) -> dict:
    """The config's evaluation section: `values` over the schema's defaults."""
    return with_defaults(values, "evaluation")


@pytest.fixture(scope="module")
def llama(tmp_path_factory, tokenizer_dirs):
    tokenizer = load_tokenizer(tokenizer_dirs["llama2"])
    tokenizer = type(tokenizer).from_pretrained(tokenizer_dirs["llama2"])
    set_pad_token(tokenizer)
    tokenizer.padding_side = "left"
    root = tmp_path_factory.mktemp("tiny_eval")
    build_model("tiny_llama", with_defaults({"source": "random", "architecture": "llama"}, "$defs/weights"),
                root / "model", tokenizer=tokenizer)
    return {"dir": root / "model", "tokenizer": tokenizer, "tokenizer_dir": Path(tokenizer_dirs["llama2"])}


def scripted_model(model_dir: Path, scripts: list[list[int]], prompt_width: int):
    """The tiny Llama, forced to write `scripts[row]` token by token (then repeat its last token)."""
    from transformers import LlamaForCausalLM

    class Scripted(LlamaForCausalLM):
        def forward(self, input_ids=None, past_key_values=None, **kwargs):
            seen = past_key_values.get_seq_length() if past_key_values is not None else 0
            step = seen + input_ids.shape[1] - prompt_width
            out = super().forward(input_ids=input_ids, past_key_values=past_key_values, **kwargs)
            forced = torch.full_like(out.logits[:, -1, :], -1e4)
            for row, script in enumerate(scripts):
                forced[row, script[min(step, len(script) - 1)]] = 1e4
            out.logits = forced[:, None, :]
            return out

    return Scripted.from_pretrained(model_dir, dtype=torch.float32).eval()


def test_generation_stops_at_eos_at_markers_and_at_the_limit(llama):
    tok = llama["tokenizer"]
    ids = lambda text: tok(text, add_special_tokens=False).input_ids  # noqa: E731
    scripts = [ids("Hello there [INST] and more words after it"), ids("Fine.") + [tok.eos_token_id],
               ids("one two three four five six seven eight nine ten eleven twelve")]
    prompt = [tok.bos_token_id] + ids("[INST] Say something [/INST]")
    model = scripted_model(llama["dir"], scripts, len(prompt))
    outputs, speed = generate(model, tok, [prompt] * 3, max_new_tokens=[12] * 3, batch_size=3, **GREEDY)
    assert [o.stop_reason for o in outputs] == ["marker", "eos", "length"]
    assert outputs[0].text == "Hello there"  # cut before the marker
    assert outputs[1].text == "Fine." and outputs[1].new_tokens == len(ids("Fine.")) + 1
    assert outputs[2].new_tokens == 12 and outputs[2].text.startswith("one two three")
    assert speed["generated_tokens"] == sum(o.new_tokens for o in outputs)


def test_markers_of_the_mistral_format_and_pad_after_an_early_stop(llama):
    tok = llama["tokenizer"]
    ids = tok("It is 39 inches. ### Human: next question", add_special_tokens=False).input_ids
    out = finish(tok, ids + [tok.pad_token_id] * 3, {tok.eos_token_id}, DEFAULTS["markers"])
    assert (out.text, out.stop_reason, out.new_tokens) == ("It is 39 inches.", "marker", len(ids))


def test_left_padding_gives_each_prompt_the_answer_it_gets_alone(llama):
    tok = llama["tokenizer"]
    model = llama_model(llama)
    short = [tok.bos_token_id] + tok("[INST] Hi [/INST]", add_special_tokens=False).input_ids
    long = [tok.bos_token_id] + tok("[INST] A much longer prompt about the monsoon in Andhra [/INST]",
                                    add_special_tokens=False).input_ids
    batched, _ = generate(model, tok, [short, long], max_new_tokens=[6, 6], batch_size=2, **GREEDY)
    alone = [generate(model, tok, [p], max_new_tokens=[6], batch_size=1, **GREEDY)[0][0] for p in (short, long)]
    assert [b.text for b in batched] == [a.text for a in alone]


def llama_model(llama):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(llama["dir"], dtype=torch.float32).eval()


def test_reference_nll_equals_the_loss_of_one_row(llama):
    tok = llama["tokenizer"]
    model = llama_model(llama)
    examples = [([tok.bos_token_id] + tok("[INST] Translate [/INST]", add_special_tokens=False).input_ids,
                 tok("వర్షం కురిసింది", add_special_tokens=False).input_ids),
                ([tok.bos_token_id] + tok("[INST] A longer prompt than the first one [/INST]", add_special_tokens=False).input_ids,
                 tok("Rain.", add_special_tokens=False).input_ids)]
    batched = reference_nll(model, tok, examples, batch_size=2)
    for (prompt, ref), (nll, n) in zip(examples, batched):
        ids = torch.tensor([prompt + ref])
        labels = torch.tensor([[-100] * len(prompt) + ref])
        with torch.no_grad():
            loss = model(input_ids=ids, labels=labels).loss.item()
        assert n == len(ref)
        assert nll / n == pytest.approx(loss, rel=1e-4)


def test_a_whole_evaluation_and_its_summary(llama, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    sets = tmp_path / "sets"
    build_sets(out_dir=sets, lang="te", instructions=INSTRUCTIONS, max_items=2, seed=1, embedded_root=REPO / "data" / "eval",
               samanantar_dir=None, probes=REPO / "data" / "eval" / "study_probes.jsonl", hub=[], hub_max_rows=10)
    # an adapter whose B matrices are zero (as LoRA initialises them): outputs equal the base model's
    base = AutoModelForCausalLM.from_pretrained(llama["dir"])
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")).save_pretrained(
        tmp_path / "adapter")
    config = evaluation_config(max_new_tokens={t: 4 for t in DEFAULTS["max_new_tokens"]}, max_prompt_tokens=300,
                               batch_size=4, bootstrap={"resamples": 200})
    settings = from_dict(GenerationSettings, {k: config[k] for k in GenerationSettings.__dataclass_fields__})
    quantization = from_dict(Quantization, with_defaults({"tokenizer": "llama2", "template": "llama2_study"},
                                                       "$defs/model")["quantization"])
    runs = {}
    for adapter, adapter_dir in (("base", None), ("samanantar", tmp_path / "adapter")):
        out = tmp_path / "eval" / "tiny" / adapter
        result = evaluate(model_name="tiny", adapter=adapter, template="llama2_study", quantization=quantization,
                          settings=settings, model_dir=llama["dir"],
                          tokenizer_dir=llama["tokenizer_dir"], sets_dir=sets, adapter_dir=adapter_dir, out_dir=out,
                          device="cpu")
        runs[("tiny", adapter)] = out / "generations.parquet"
        assert sorted(p.name for p in out.iterdir()) == ["generations.parquet", "metrics.json"]
        saved = json.loads((out / "metrics.json").read_text(),  # strict JSON: no NaN literals
                           parse_constant=lambda c: pytest.fail(f"metrics.json holds {c}"))
        assert saved["items"] == result["items"] and saved["seed"] == 1234
        assert sum(saved["stop_reasons"].values()) == saved["items"]
        # Telugu prompts are long under Llama-2's tokenizer: skipped and counted, not silently lost
        assert saved["items"] + sum(saved["skipped_prompt_too_long"].values()) == 2 * 4 * 2 + 8
    table = pq.read_table(runs[("tiny", "base")])
    for column in ("set", "task", "lang", "prompt", "reference", "output", "stop_reason"):
        assert column in table.column_names
    assert table.column("prompt").to_pylist()[0].startswith("[INST] ")
    assert pq.read_table(runs[("tiny", "samanantar")]).column("output").to_pylist() == table.column("output").to_pylist()

    summarize(runs, settings=from_dict(SummarySettings, {k: config[k] for k in SummarySettings.__dataclass_fields__}),
              summary_csv=tmp_path / "summary.csv", differences_csv=tmp_path / "differences.csv")
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary.columns) == COLUMNS
    assert {"chrf++", "bleu", "rouge_l", "exact_match", "f1", "repetition_rate", "stop_rate", "script_fidelity",
            "perplexity", "refusal"} <= set(summary["metric"])
    finite = summary.dropna(subset=["value", "ci_low"])
    assert ((finite["ci_low"] <= finite["value"] + 1e-9) & (finite["value"] <= finite["ci_high"] + 1e-9)).all()
    differences = pd.read_csv(tmp_path / "differences.csv")
    assert len(differences) and (differences["diff"].dropna().abs() < 1e-6).all()  # NaN: no value (e.g. no letters)
    assert set(differences["better"]) == {"no clear difference"}


def test_settings_from_the_config_defaults():
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["evaluation"]
    filled = with_defaults(config, "evaluation")
    settings = from_dict(GenerationSettings, {k: filled[k] for k in GenerationSettings.__dataclass_fields__})
    summary = from_dict(SummarySettings, {k: filled[k] for k in SummarySettings.__dataclass_fields__})
    assert settings.max_new_tokens["translation"] == config["max_new_tokens"]["translation"]
    assert settings.decoding.do_sample is False and settings.decoding.temperature == 1.0
    assert summary.bootstrap.resamples == 1000 and not math.isnan(summary.bootstrap.confidence)
    with pytest.raises(Exception, match="config key evaluation: missing seed"):
        from_dict(SummarySettings, {"bootstrap": filled["bootstrap"]}, key="evaluation")


@pytest.mark.parametrize("output", ["", "\ufffd\ufffd\ufffd", "\x00\x01 <script>alert(1)</script>", "ਉਪਕ ਤਭੋ " * 30,
                                    "[/INST] [/INST]", "🙂" * 5])
def test_any_output_is_scored_without_a_crash(output):
    for task in ("completion", "qa", "summarization", "translation", "open_qa", "safety"):
        scores = score_item(task, "te", output, ["వర్షం కురిసింది"], "length")
        for name, value in scores.items():
            assert value != value or 0.0 <= value <= 1.0, (task, name, value)  # NaN where nothing applies
