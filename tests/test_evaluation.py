"""Generation and evaluation on tiny random models with the real Llama-2 tokenizer: stop handling on
a model that writes template markers, left padding, reference likelihoods, and a whole evaluation
of a base model and an adapter that changes nothing (every paired difference is exactly zero)."""

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import torch

from telugu_llm.config import with_defaults
from telugu_llm.settings import from_dict
from telugu_llm.phrasing import check_budget
from telugu_llm.evaluation.generation import finish, generate, reference_nll, token_batches
from telugu_llm.evaluation.run import choose_items, evaluate, trained_sequence
from telugu_llm.evaluation.scoring import score_item
from telugu_llm.evaluation.sets import build_sets, read_sets
from telugu_llm.evaluation.settings import GenerationSettings
from telugu_llm.intervals import Intervals
from telugu_llm.errors import InputError
from telugu_llm.evaluation.summary import COLUMNS, RUN_COLUMNS, parse_adapter, run_named, summarize
from telugu_llm.loading import Quantization, load_tokenizer, open_tokenizer, set_pad_token
from telugu_llm.prompts.formats import IGNORE_INDEX, render, tokenize_example
from telugu_llm.train.weights import build_model

from test_evalsets import INSTRUCTIONS

REPO = Path(__file__).resolve().parents[1]
DEFAULTS = with_defaults({}, "evaluation")


GREEDY = {"batch_tokens": 10**6, "do_sample": False, "temperature": 1.0, "top_p": 1.0, "seed": 0, "markers": DEFAULTS["markers"]}


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


def test_batches_are_sized_by_tokens_not_rows():
    """16 rows of 2,000-token prompts with 256 new tokens would be 36k tokens of cache: long prompts
    go in small batches, short ones in large ones, every batch within the budget."""
    lengths = [50, 2000] * 20 + [700] * 5
    batches = token_batches(lengths, batch_tokens=8192, batch_size=16, extra=256)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) <= 16 and len(batch) * (width + 256) <= 8192
    widths = [max(lengths[i] for i in b) for b in batches]
    assert widths == sorted(widths, reverse=True)  # grouped by length, the longest first
    assert [len(b) for b in batches[:6]] == [3] * 6  # 3 x 2,256 tokens (16 rows: 36,096)
    assert len(batches[-1]) == 16 and widths[-1] == 50  # 16 x 306 tokens
    assert token_batches([9000, 10], batch_tokens=8192, batch_size=16) == [[0], [1]]  # alone if too long


def test_one_row_at_the_limits_must_fit_the_budget():
    check_budget(2048, {"qa": 32, "open_qa": 256}, 2304)
    with pytest.raises(InputError, match=r"config key evaluation.batch_tokens: 2000 is less than one row at the limits, "
                                         r"evaluation.max_prompt_tokens \(2048\) \+ evaluation.max_new_tokens.open_qa "
                                         r"\(256\) = 2304"):
        check_budget(2048, {"qa": 32, "open_qa": 256}, 2000)


def test_generation_batches_by_tokens_and_outputs_do_not_depend_on_the_batches(llama):
    tok = llama["tokenizer"]
    model = llama_model(llama)
    texts = ["Hi", "Rain", "A much longer prompt about the monsoon in Andhra and the rivers of the Deccan plateau",
             "Translate: it rained all night in Guntur, and the fields were flooded by morning"]
    prompts = [[tok.bos_token_id] + tok(f"[INST] {t} [/INST]", add_special_tokens=False).input_ids for t in texts]
    seen = []
    original = model.generate

    def recording(**kwargs):
        seen.append((kwargs["input_ids"].shape[0], kwargs["input_ids"].shape[1], kwargs["max_new_tokens"]))
        return original(**kwargs)

    model.generate = recording
    budget = 2 * (max(len(p) for p in prompts) + 5)  # two long rows, or more short ones
    small, speed = generate(model, tok, prompts, max_new_tokens=[5] * 4, batch_size=4,
                            **{**GREEDY, "batch_tokens": budget})
    assert all(rows * (width + limit) <= budget for rows, width, limit in seen)
    assert sorted(rows for rows, _, _ in seen) == [2, 2] and speed["batches"] == 2
    assert speed["largest_batch_tokens"] == max(r * (w + m) for r, w, m in seen)
    seen.clear()
    large, _ = generate(model, tok, prompts, max_new_tokens=[5] * 4, batch_size=4, **GREEDY)
    assert [rows for rows, _, _ in seen] == [4]
    assert [g.text for g in small] == [g.text for g in large]


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
    batched = reference_nll(model, tok, examples, batch_size=2, batch_tokens=10**6)
    for (prompt, ref), (nll, n) in zip(examples, batched):
        ids = torch.tensor([prompt + ref])
        labels = torch.tensor([[-100] * len(prompt) + ref])
        with torch.no_grad():
            loss = model(input_ids=ids, labels=labels).loss.item()
        assert n == len(ref)
        assert nll / n == pytest.approx(loss, rel=1e-4)


def test_a_reference_longer_than_a_batch_is_not_scored_and_the_others_are(llama):
    """A 100k-character reference with perplexity on asked the allocator for 64 GB (issue 22,
    defect 4): a reference that with its prompt exceeds batch_tokens is now (NaN, 0), counted by the
    caller (metrics.json: reference_too_long_for_perplexity), and the rest are scored as before."""
    tok = llama["tokenizer"]
    model = llama_model(llama)
    prompt = [tok.bos_token_id] + tok("[INST] Summarise [/INST]", add_special_tokens=False).input_ids
    long_ref = tok("వర్షం కురిసింది. " * 60, add_special_tokens=False).input_ids
    short = tok("వర్షం కురిసింది", add_special_tokens=False).input_ids
    assert len(prompt) + len(long_ref) > 512 > len(prompt) + len(short)
    (nll_long, n_long), (nll_short, n_short) = reference_nll(model, tok, [(prompt, long_ref), (prompt, short)],
                                                             batch_size=2, batch_tokens=512)
    assert math.isnan(nll_long) and n_long == 0
    [(alone, n_alone)] = reference_nll(model, tok, [(prompt, short)], batch_size=1, batch_tokens=512)
    assert n_short == n_alone == len(short) and nll_short == pytest.approx(alone, rel=1e-5)


def tiny_llama_with(tokenizer_dir, model_dir):
    """A left-padding tokenizer with its pad token, and a tiny random Llama (float32) sized to it."""
    from transformers import AutoModelForCausalLM

    tok = open_tokenizer(tokenizer_dir)
    set_pad_token(tok)
    tok.padding_side = "left"
    build_model("tiny", with_defaults({"source": "random", "architecture": "llama"}, "$defs/weights"), model_dir,
                tokenizer=tok)
    return tok, AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()


@pytest.mark.parametrize("name", ["llama2", "mistral", "gemma3", "smollm2"])
def test_reference_likelihood_is_of_the_sequence_trained_on(default_tokenizer_dirs, tmp_path, name):
    """Pitfall 22: the reference is scored as training tokenizes it (prompt and completion of the
    template, the completion's leading space, EOS last), and its likelihood equals the training loss
    of that example, under SentencePiece (llama2, mistral, gemma3) and byte-level BPE (smollm2)."""
    tok, model = tiny_llama_with(default_tokenizer_dirs[name], tmp_path / "m")
    cases = [("llama2_study", "Translate into Telugu: It is raining.", "వర్షం కురుస్తోంది."),
             ("mistral_study", "Complete the sentence: The farmer", "sold his paddy at the market.")]
    for template, instruction, reference in cases:
        rendered = render(template, [("Human", instruction), ("Assistant", reference)])
        ids, labels = tokenize_example(tok, rendered.prompt, rendered.completion)
        prompt, completion = trained_sequence(tok, template, instruction, reference)
        assert prompt + completion == ids and completion == [t for t in labels if t != IGNORE_INDEX]
        assert completion[-1] == tok.eos_token_id
        alone = tok(reference, add_special_tokens=False).input_ids
        if name in ("smollm2", "gemma3"):  # the pieces of the reference alone are another sequence
            assert completion[:-1] != alone
        with torch.no_grad():
            loss = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss.item()
        [(nll, n)] = reference_nll(model, tok, [(prompt, completion)], batch_size=1, batch_tokens=10**6)
        assert n == len(completion) and nll / n == pytest.approx(loss, rel=1e-4)


@pytest.mark.parametrize("name, reference, space_piece", [("llama2", "వర్షం కురుస్తోంది.", 1),
                                                         ("smollm2", "వర్షం కురుస్తోంది.", 1),
                                                         ("smollm2", "It rained.", 0)])
def test_bits_per_character_count_neither_eos_nor_the_leading_space(default_tokenizer_dirs, tmp_path, name, reference,
                                                                    space_piece):
    """Issue 21, point 8: the likelihood per character (and per token) sums the reference's own
    tokens only: not the final EOS, and not a piece that is the template's leading space alone
    (both write one before Telugu; SmolLM2's byte-level BPE merges it into an English first word)."""
    from telugu_llm.evaluation.run import own_span

    tok, model = tiny_llama_with(default_tokenizer_dirs[name], tmp_path / "m")
    prompt, completion = trained_sequence(tok, "llama2_study", "Translate into Telugu: It is raining.", reference)
    start, end = own_span(tok, completion)
    assert end == len(completion) - 1 and completion[end] == tok.eos_token_id
    assert tok.decode(completion[start:end]).strip() == reference
    assert start == space_piece
    labels = [IGNORE_INDEX] * (len(prompt) + start) + completion[start:end] + [IGNORE_INDEX]
    with torch.no_grad():
        loss = model(input_ids=torch.tensor([prompt + completion]), labels=torch.tensor([labels])).loss.item()
    other = (prompt[:3], completion)  # a shorter row in the same batch: the slice must follow the padding
    [(nll, n), _] = reference_nll(model, tok, [(prompt, completion), other], batch_size=2, batch_tokens=10**6,
                                  own=[(start, end), (0, len(completion))])
    assert n == end - start and nll / n == pytest.approx(loss, rel=1e-4)


def test_long_prompts_are_passed_over_and_the_next_in_the_order_taken(tokenizer_dirs, tmp_path):
    """max_items is reached where enough prompts fit: drawing the items first and dropping the long
    ones afterwards left most XL-Sum and IndicQA groups with a few items."""
    from test_evalsets import write

    root = tmp_path / "eval"
    long = "రాష్ట్రంలో భారీ వర్షాలు కురిశాయి. " * 40  # about 1,000 Llama-2 tokens
    write(root / "te" / "summarization.jsonl",
          [{"id": f"d{i}", "document": (long if i % 3 else "") + f"వర్షం {i} రోజులు కురిసింది.", "summary": "వర్షం."}
           for i in range(12)])
    build_sets(out_dir=tmp_path / "sets", lang="te", instructions=INSTRUCTIONS, max_candidates=None, seed=1,
               embedded_root=root, samanantar_dir=None, probes=None, hub=[], hub_max_rows=10)
    items = pq.read_table(tmp_path / "sets" / "embedded.parquet").to_pylist()
    order = [i["id"] for i in sorted(items, key=lambda i: i["rank"])]
    fits = [i for i in order if int(i[1:]) % 3 == 0]  # d0, d3, d6, d9, in the seeded order
    tokenizer = load_tokenizer(tokenizer_dirs["llama2"])
    chosen = {}
    for max_items in (2, 3, 6):
        config = evaluation_config(max_items=max_items, max_prompt_tokens=300)
        settings = from_dict(GenerationSettings, {k: config[k] for k in GenerationSettings.__dataclass_fields__})
        kept, prompts, skipped, coverage = choose_items(tokenizer, items, "llama2_study", None, settings)
        chosen[max_items] = [item["id"] for item, _, _ in kept]
        assert all(len(p) <= 300 for p in prompts)
        assert chosen[max_items] == fits[:max_items]
        passed = order.index(fits[max_items - 1]) + 1 - max_items if max_items < 4 else 8
        assert skipped == {"embedded/summarization/te": passed}
        assert coverage["embedded/summarization/te"] == {"candidates": 12, "wanted": max_items, "truncated": 0,
                                                         "evaluated": min(max_items, 4), "skipped_prompt_too_long": passed}


def test_a_set_marked_truncate_keeps_the_head_of_a_long_document_that_fits(tokenizer_dirs, tmp_path, hub):
    """XL-Sum and IndicQA with `truncate`: a document cut at a word to fit, marked; a passage whose
    answer would be cut off is passed over."""
    from hub_replicas import script_only_with_export
    from test_evalsets import hub_spec, paper_entry

    words = [f"పదం{i}" for i in range(150)]  # about 2,500 Llama-2 tokens (a Telugu letter is bytes)
    document = " ".join(words)
    script_only_with_export(hub.root, "csebuetnlp/xlsum", "xlsum.py", {"telugu/test": {
        "id": ["x1", "x2"], "url": ["u"] * 2, "title": ["t"] * 2, "summary": ["వర్షం."] * 2,
        "text": [document, "చిన్న వార్త."]}})
    script_only_with_export(hub.root, "ai4bharat/IndicQA", "IndicQA.py", {"indicqa.te/test": {
        "id": ["q1", "q2"], "context": [document, document + " రాజధాని"], "question": ["ఏది?", "ఏది?"],
        "answers": [{"text": ["పదం3"], "answer_start": [0]}, {"text": ["రాజధాని"], "answer_start": [0]}]}})
    specs = [hub_spec({**paper_entry(name), "truncate": True}) for name in ("xlsum", "indicqa")]
    build_sets(out_dir=tmp_path / "sets", lang="te", instructions=INSTRUCTIONS, max_candidates=None, seed=1,
               embedded_root=None, samanantar_dir=None, probes=None, hub=specs, hub_max_rows=10)
    items = read_sets(tmp_path / "sets").to_pylist()
    assert {i["long_text"] for i in items if i["id"] in ("xlsum-0", "indicqa-0")} == {document}
    config = evaluation_config(max_items=5, max_prompt_tokens=300)
    settings = from_dict(GenerationSettings, {k: config[k] for k in GenerationSettings.__dataclass_fields__})
    kept, prompts, skipped, coverage = choose_items(load_tokenizer(tokenizer_dirs["llama2"]), items, "llama2_study",
                                                    None, settings)
    by_id = {item["id"]: (item, ids) for (item, _, _), ids in zip(kept, prompts)}
    assert sorted(by_id) == ["indicqa-0", "xlsum-0", "xlsum-1"]  # indicqa-1's answer is past the cut
    cut, ids = by_id["xlsum-0"]
    assert cut["truncated"] and 250 < len(ids) <= 300 and not by_id["xlsum-1"][0].get("truncated")
    head = next(i["instruction"] for i in items if i["id"] == "xlsum-0").split(document)[0]
    assert cut["instruction"].startswith(head + " ".join(words[:10])) and words[-1] not in cut["instruction"]
    assert coverage["xlsum/summarization/te"] == {"candidates": 2, "wanted": 2, "evaluated": 2, "truncated": 1,
                                                  "skipped_prompt_too_long": 0}
    assert coverage["indicqa/qa/te"]["truncated"] == 1 and skipped == {"indicqa/qa/te": 1}


def test_a_whole_evaluation_and_its_summary(llama, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    sets = tmp_path / "sets"
    build_sets(out_dir=sets, lang="te", instructions=INSTRUCTIONS, max_candidates=4, seed=1, embedded_root=REPO / "data" / "eval",
               samanantar_dir=None, probes=REPO / "data" / "eval" / "study_probes.jsonl", hub=[], hub_max_rows=10)
    # an adapter whose B matrices are zero (as LoRA initialises them): outputs equal the base model's
    base = AutoModelForCausalLM.from_pretrained(llama["dir"])
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")).save_pretrained(
        tmp_path / "adapter")
    config = evaluation_config(max_new_tokens={t: 4 for t in DEFAULTS["max_new_tokens"]}, max_prompt_tokens=300,
                               batch_size=4, max_items=2)
    settings = from_dict(GenerationSettings, {k: config[k] for k in GenerationSettings.__dataclass_fields__})
    quantization = from_dict(Quantization, with_defaults({"tokenizer": "llama2", "template": "llama2_study"},
                                                       "$defs/model")["quantization"])
    runs = {}
    for adapter, adapter_dir in (("base", None), (RUN, tmp_path / "adapter")):
        out = tmp_path / "eval" / "tiny" / adapter
        result = evaluate(model_name="tiny", adapter=adapter, template="llama2_study", quantization=quantization,
                          settings=settings, model_dir=llama["dir"],
                          tokenizer_dir=llama["tokenizer_dir"], sets_dir=sets, adapter_dir=adapter_dir, out_dir=out,
                          device="cpu", probe_template="mistral_study")
        runs[("tiny", adapter)] = out / "generations.parquet"
        assert sorted(p.name for p in out.iterdir()) == ["generations.parquet", "metrics.json"]
        saved = json.loads((out / "metrics.json").read_text(),  # strict JSON: no NaN literals
                           parse_constant=lambda c: pytest.fail(f"metrics.json holds {c}"))
        assert saved["items"] == result["items"] and saved["seed"] == 1234
        assert sum(saved["stop_reasons"].values()) == saved["items"]
        # Telugu prompts are long under Llama-2's tokenizer: skipped and counted, not silently lost
        # (and the study's 8 prompts again in the probe template)
        coverage = saved["coverage"]
        assert saved["items"] == sum(c["evaluated"] for c in coverage.values())
        assert saved["skipped_prompt_too_long"] == {k: c["skipped_prompt_too_long"] for k, c in coverage.items()
                                                    if c["skipped_prompt_too_long"]}
        for key, c in coverage.items():  # max_items where enough fit; else every candidate that fits
            assert c["evaluated"] == c["wanted"] or c["evaluated"] + c["skipped_prompt_too_long"] == c["candidates"], key
            assert c["wanted"] == (c["candidates"] if key.startswith("study_probes") else 2), key
        assert saved["probe_template"] == "mistral_study"
        # answers budgeted in characters (the default), each group's token limit capped at 4 here
        assert all(b["unit"] == "chars" and b["max_new_tokens"] <= 4 for b in saved["answer_budget"].values())
        assert set(saved["answer_budget"]) == {k for k, c in coverage.items() if c["evaluated"]}
        assert saved["cut_at_budget"]["cut"] == saved["stop_reasons"].get("length", 0)
        assert saved["cut_at_budget"]["share"] == pytest.approx(saved["cut_at_budget"]["cut"] / saved["items"])
    table = pq.read_table(runs[("tiny", "base")])
    for column in ("set", "task", "lang", "prompt", "reference", "output", "stop_reason", "cluster"):
        assert column in table.column_names
    sets_cluster = {(i["set"], i["id"]): i["cluster"] for i in read_sets(sets).to_pylist()}
    for row in table.select(["set", "id", "cluster"]).to_pylist():  # each item's cluster, as the sets wrote it
        assert row["cluster"] == sets_cluster[(row["set"].replace("_mistral_study", ""), row["id"])]
    assert table.column("prompt").to_pylist()[0].startswith("[INST] ")
    probes = table.filter(pc.equal(table.column("set"), "study_probes_mistral_study")).column("prompt").to_pylist()
    assert probes and all(p.startswith("###Human:") or p.startswith("### Human:") for p in probes), probes[:1]
    assert pq.read_table(runs[("tiny", RUN)]).column("output").to_pylist() == table.column("output").to_pylist()

    summarize(runs, settings=Intervals(confidence=0.95, min_items=2, equivalence={}), summary_csv=tmp_path / "summary.csv",
              differences_csv=tmp_path / "differences.csv", coverage_csv=tmp_path / "coverage.csv")
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary.columns) == COLUMNS[:2] + RUN_COLUMNS + COLUMNS[2:]
    tuned = summary[summary["adapter"] == RUN]
    assert set(tuned["dataset"]) == {"samanantar"} and set(tuned["recipe"]) == {"corrected"}
    assert set(pd.read_csv(tmp_path / "summary.csv", dtype={"subset": str}).dropna(subset=["subset"])["subset"]) == {"200"}
    assert set(tuned["seed"]) == {7}
    assert set(summary[summary["adapter"] == "base"]["dataset"]) == {"base"}
    assert summary[summary["adapter"] == "base"][["recipe", "subset", "seed"]].isna().all().all()
    assert {"chrf++", "bleu_intl", "rouge_l", "exact_match", "f1", "repetition_rate", "stop_rate", "script_fidelity",
            "perplexity", "refusal"} <= set(summary["metric"])
    finite = summary.dropna(subset=["value", "ci_low"])
    assert ((finite["ci_low"] <= finite["value"] + 1e-9) & (finite["value"] <= finite["ci_high"] + 1e-9)).all()
    differences = pd.read_csv(tmp_path / "differences.csv")
    assert len(differences) and (differences["diff"].dropna().abs() < 1e-6).all()  # NaN: no value (e.g. no letters)
    assert "inconclusive" in set(differences["verdict"].dropna()) <= {"inconclusive", "too few items"}
    coverage = pd.read_csv(tmp_path / "coverage.csv")
    assert set(coverage["adapter"]) == {"base", RUN} and (coverage["not_compared"] == 0).all()


def test_a_run_is_named_by_its_metrics_and_its_adapter_path_parsed(tmp_path):
    path = write_run(tmp_path, "m", "guanaco/study/all/seed3", {"i1": 1.0})
    assert run_named(path) == ("m", "guanaco/study/all/seed3")
    assert parse_adapter("guanaco/study/all/seed3") == {"dataset": "guanaco", "recipe": "study", "subset": "all", "seed": 3}
    with pytest.raises(InputError, match=r"evaluation run 'guanaco/study': expected base or <dataset>/<recipe>/<subset>/seed<seed>"):
        parse_adapter("guanaco/study")


RUN = "samanantar/corrected/200/seed7"  # an adapter: the training run's path under its model


def generation_rows(model_items: dict[str, float], task="qa", lang="en", set_name="embedded") -> list[dict]:
    """Generation rows of one run: an item id and its F1 (other scores NaN)."""
    nan = float("nan")
    return [{"id": item, "set": set_name, "task": task, "lang": lang, "instruction": "q", "prompt": "q",
             "reference": "a", "references": ["a"], "output": "a", "stop_reason": "eos", "prompt_tokens": 3,
             "new_tokens": 1, "nll": nan, "ref_tokens": 0, "ref_chars": 1, "repetition_rate": nan, "stopped": 1.0,
             "marker": 0.0, "script_fidelity": 1.0, "exact_match": f1, "f1": f1, "rouge_l": nan, "refusal": nan}
            for item, f1 in model_items.items()]


def write_run(root: Path, model: str, adapter: str, items: dict[str, float], skipped: int = 0) -> Path:
    import pyarrow as pa

    from telugu_llm.evaluation.run import GENERATION_SCHEMA

    out = root / model / adapter
    out.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(generation_rows(items), schema=GENERATION_SCHEMA), out / "generations.parquet")
    (out / "metrics.json").write_text(json.dumps({"model": model, "adapter": adapter, "items": len(items),
                                                  "stop_reasons": {"eos": len(items)},
                                                  "skipped_prompt_too_long": {"embedded/qa/en": skipped} if skipped else {}}))
    return out / "generations.parquet"


def test_values_across_models_use_the_items_every_model_evaluated(tmp_path):
    """Model b skipped item i9 (prompt too long under its tokenizer): each model's own values keep its
    own items; the rows that compare models, labelled so, are on i0-i8 for both; coverage.csv says
    what was left out and why."""
    a_items = {f"i{k}": float(k % 2) for k in range(10)}
    b_items = {f"i{k}": 1.0 for k in range(9)}
    runs = {("a", "base"): write_run(tmp_path, "a", "base", a_items), ("b", "base"): write_run(tmp_path, "b", "base", b_items, 1)}
    summarize(runs, settings=Intervals(0.95, 6, {}), summary_csv=tmp_path / "s.csv", differences_csv=tmp_path / "d.csv",
              coverage_csv=tmp_path / "c.csv")
    summary = pd.read_csv(tmp_path / "s.csv")
    f1 = summary[(summary["metric"] == "f1") & (summary["items"] == "common to all runs")].set_index("model")
    assert f1.loc["a", "n"] == f1.loc["b", "n"] == 9
    assert f1.loc["a", "value"] == pytest.approx(4 / 9)  # i1, i3, i5, i7 of i0-i8; i9 (1.0) is left out
    own = summary[(summary["metric"] == "f1") & (summary["items"] == "own")].set_index("model")
    assert own.loc["a", "n"] == 10 and own.loc["a", "value"] == pytest.approx(5 / 10)
    # n counts the items with a value: no answer here is long enough for a repetition rate
    assert (summary.loc[summary["metric"] == "repetition_rate", "n"] == 0).all()
    coverage = pd.read_csv(tmp_path / "c.csv").set_index("model")
    assert coverage.loc["a", "evaluated"] == 10 and coverage.loc["a", "common"] == 9
    assert coverage.loc["b", "skipped_prompt_too_long"] == 1 and coverage.loc["b", "evaluated"] == 9


def test_verdicts_need_enough_items_and_survive_the_fdr_correction(tmp_path):
    base = {f"i{k}": 0.1 * (k % 3) for k in range(12)}
    better = {k: v + 0.5 + 0.01 * i for i, (k, v) in enumerate(base.items())}  # a clear, varied improvement
    few = {k: base[k] for k in list(base)[:4]}
    runs = {("m", "base"): write_run(tmp_path, "m", "base", base), ("m", RUN): write_run(tmp_path, "m", RUN, better),
            ("s", "base"): write_run(tmp_path / "s", "s", "base", few),
            ("s", RUN): write_run(tmp_path / "s", "s", RUN, {k: v + 0.5 for k, v in few.items()})}
    summarize({k: v for k, v in runs.items() if k[0] == "m"}, settings=Intervals(0.95, 6, {}), summary_csv=tmp_path / "s.csv",
              differences_csv=tmp_path / "d.csv", coverage_csv=tmp_path / "c.csv")
    d = pd.read_csv(tmp_path / "d.csv").set_index("metric")
    assert d.loc["f1", "verdict"] == "better" and d.loc["f1", "p_adjusted"] < 0.05 and d.loc["f1", "n"] == 12
    assert d.loc["f1", "p_adjusted"] >= d.loc["f1", "p"]
    assert d.loc["stop_rate", "verdict"] == "inconclusive"  # every answer stopped in both runs (no margin set)
    summarize({k: v for k, v in runs.items() if k[0] == "s"}, settings=Intervals(0.95, 6, {}), summary_csv=tmp_path / "s2.csv",
              differences_csv=tmp_path / "d2.csv", coverage_csv=tmp_path / "c2.csv")
    small = pd.read_csv(tmp_path / "d2.csv").set_index("metric")
    assert small.loc["f1", "diff"] == pytest.approx(0.5) and small.loc["f1", "verdict"] == "too few items"
    assert math.isnan(small.loc["f1", "p_adjusted"])


def test_settings_from_the_config_defaults():
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["evaluation"]
    filled = with_defaults(config, "evaluation")
    settings = from_dict(GenerationSettings, {k: filled[k] for k in GenerationSettings.__dataclass_fields__})
    intervals = from_dict(Intervals, with_defaults({}, "intervals"), key="intervals")
    assert settings.max_new_tokens["translation"] == config["max_new_tokens"]["translation"]
    assert settings.decoding.do_sample is False and settings.decoding.temperature == 1.0
    assert intervals.confidence == 0.95 and intervals.min_items == 6 and intervals.equivalence["chrf++"] == 2.0
    with pytest.raises(Exception, match="config key intervals: missing min_items"):
        from_dict(Intervals, {"confidence": 0.9}, key="intervals")
    with pytest.raises(Exception, match="config key evaluation: missing seed; unknown bootstrap"):
        from_dict(GenerationSettings, {**{k: filled[k] for k in GenerationSettings.__dataclass_fields__ if k != "seed"},
                                       "bootstrap": {}}, key="evaluation")


@pytest.mark.parametrize("output", ["", "\ufffd\ufffd\ufffd", "\x00\x01 <script>alert(1)</script>", "ਉਪਕ ਤਭੋ " * 30,
                                    "[/INST] [/INST]", "🙂" * 5])
def test_any_output_is_scored_without_a_crash(output):
    for task in ("completion", "qa", "summarization", "translation", "open_qa", "safety"):
        scores = score_item(task, "te", output, ["వర్షం కురిసింది"], "length")
        for name, value in scores.items():
            assert value != value or 0.0 <= value <= 1.0, (task, name, value)  # NaN where nothing applies


def test_runs_that_differ_in_one_dimension_are_contrasted_and_seeds_aggregated(tmp_path):
    """contrasts.csv pairs fine-tuned runs of a model that differ in the recipe only, or in the subset
    only; seeds.csv combines each run's seeds (tests/test_summary.py: the verdicts across seeds)."""
    from telugu_llm.evaluation.summary import CONTRAST_COLUMNS, SEED_COLUMNS, contrast_pairs

    base = {f"i{k}": 0.1 * (k % 3) for k in range(12)}
    up = lambda delta: {k: v + delta + 0.01 * i for i, (k, v) in enumerate(base.items())}  # noqa: E731
    adapters = {"samanantar/corrected/50/seed1": up(0.2), "samanantar/corrected/200/seed1": up(0.5),
                "samanantar/study/200/seed1": base, "samanantar/corrected/200/seed2": up(0.48),
                "guanaco/corrected/all/seed1": base}
    runs = {("m", "base"): write_run(tmp_path, "m", "base", base)}
    runs.update({("m", a): write_run(tmp_path, "m", a, items) for a, items in adapters.items()})
    pairs = contrast_pairs(list(runs))
    assert pairs == {"recipe": [(("m", "samanantar/study/200/seed1"), ("m", "samanantar/corrected/200/seed1"))],
                     "subset": [(("m", "samanantar/corrected/50/seed1"), ("m", "samanantar/corrected/200/seed1"))]}
    out = {name: tmp_path / f"{name}.csv" for name in ("s", "d", "c", "contrasts", "seeds")}
    summarize(runs, settings=Intervals(0.95, 6, {}), summary_csv=out["s"], differences_csv=out["d"], coverage_csv=out["c"],
              contrasts_csv=out["contrasts"], seeds_csv=out["seeds"])
    contrasts = pd.read_csv(out["contrasts"])
    assert list(contrasts.columns) == CONTRAST_COLUMNS
    f1 = contrasts[contrasts["metric"] == "f1"].set_index("dimension")
    assert f1.loc["recipe", "diff"] == pytest.approx(0.5 + 0.055, abs=1e-6) and f1.loc["recipe", "verdict"] == "better"
    assert f1.loc["subset", "diff"] == pytest.approx(0.3) and f1.loc["subset", "n"] == 12
    seeds = pd.read_csv(out["seeds"], dtype={"subset": str})
    assert list(seeds.columns) == SEED_COLUMNS
    two = seeds[(seeds["metric"] == "f1") & (seeds["recipe"] == "corrected") & (seeds["subset"] == "200")
                & (seeds["against"] == "base")].iloc[0]
    assert two["seeds"] == 2 and two["verdict"] == "better"
    assert two["diff_min"] == pytest.approx(0.535) and two["diff_max"] == pytest.approx(0.555)
    one = seeds[(seeds["metric"] == "f1") & (seeds["dataset"] == "guanaco")].iloc[0]
    assert one["seeds"] == 1 and one["verdict"] == "too few seeds"


def test_the_study_prompts_are_asked_again_in_the_template_the_study_used():
    from telugu_llm.evaluation.run import probe_set, with_probe_template

    items = [{"id": "p1", "set": "study_probes", "instruction": "What is a large language model?"},
             {"id": "e1", "set": "embedded", "instruction": "q"}]
    assert with_probe_template(items, "mistral_study", None) == [(items[0], "mistral_study"), (items[1], "mistral_study")]
    assert with_probe_template(items, "llama2_study", "llama2_study") == [(items[0], "llama2_study"),
                                                                         (items[1], "llama2_study")]
    both = with_probe_template(items, "mistral_study", "llama2_study")
    assert both[2] == ({**items[0], "set": "study_probes_llama2_study"}, "llama2_study") and len(both) == 3
    assert probe_set("llama2_study") == "study_probes_llama2_study"


def test_a_probe_template_set_is_compared_among_the_runs_that_have_it(tmp_path):
    """Only Mistral-like models get the study's prompts in a second template: the others' runs do not
    empty that set, and their coverage does not count it."""
    import pyarrow as pa

    from telugu_llm.evaluation.run import GENERATION_SCHEMA

    def run(model, adapter, sets):
        out = tmp_path / model / adapter
        out.mkdir(parents=True)
        rows = [r for s in sets for r in generation_rows({"p1": 1.0, "p2": 0.0}, set_name=s)]
        pq.write_table(pa.Table.from_pylist(rows, schema=GENERATION_SCHEMA), out / "generations.parquet")
        (out / "metrics.json").write_text(json.dumps({"skipped_prompt_too_long": {}}))
        return out / "generations.parquet"

    runs = {("llama", "base"): run("llama", "base", ["study_probes"]),
            ("mistral", "base"): run("mistral", "base", ["study_probes", "study_probes_llama2_study"])}
    summarize(runs, settings=Intervals(0.95, 2, {}), summary_csv=tmp_path / "s.csv", differences_csv=tmp_path / "d.csv",
              coverage_csv=tmp_path / "c.csv")
    summary = pd.read_csv(tmp_path / "s.csv")
    probe = summary[(summary["set"] == "study_probes_llama2_study") & (summary["metric"] == "f1")]
    assert list(probe["model"]) == ["mistral"] and list(probe["n"]) == [2]
    coverage = pd.read_csv(tmp_path / "c.csv")
    assert (coverage["not_compared"] >= 0).all()
    assert set(coverage[coverage["set"] == "study_probes_llama2_study"]["model"]) == {"mistral"}


def test_the_vocabulary_contrast_compares_bits_per_character_never_perplexity(tmp_path):
    """Issue 21, point 3: the twin's tokenizer spends fewer tokens on the same reference, so equal
    bits per character read as a higher perplexity; no per-token metric enters a contrast (or its
    Benjamini-Hochberg family) between tokenizers. Within one tokenizer (base against tuned) it stays."""
    import pyarrow as pa

    from telugu_llm.evaluation.run import GENERATION_SCHEMA

    def run(model, adapter, tokens):
        rows = [{**row, "nll": 3.0 + 0.1 * k, "ref_tokens": tokens, "ref_chars": 10}
                for k, row in enumerate(generation_rows({f"i{k}": 0.5 for k in range(8)}))]
        out = tmp_path / model / adapter
        out.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows, schema=GENERATION_SCHEMA), out / "generations.parquet")
        (out / "metrics.json").write_text(json.dumps({"model": model, "adapter": adapter, "items": 8}))
        return out / "generations.parquet"

    runs = {("m", "base"): run("m", "base", 9), ("m_te", "base"): run("m_te", "base", 3),
            ("m", RUN): run("m", RUN, 9)}
    out = {name: tmp_path / f"{name}.csv" for name in ("s", "d", "c", "contrasts")}
    summarize(runs, settings=Intervals(0.95, 6, {}), summary_csv=out["s"], differences_csv=out["d"], coverage_csv=out["c"],
              contrasts_csv=out["contrasts"], twins={"m_te": "m"})
    vocabulary = pd.read_csv(out["contrasts"]).query("dimension == 'vocabulary'").set_index("metric")
    assert "perplexity" not in vocabulary.index
    assert vocabulary.loc["bits_per_char", "diff"] == pytest.approx(0.0, abs=1e-9)  # the same likelihood per character
    assert "perplexity" in set(pd.read_csv(out["d"])["metric"])  # one tokenizer: base against tuned


class CharTokenizer:
    """A tokenizer of `width` characters per token (a leading space joins the first): the base's and
    its extended twin's fertility, without loading either."""

    def __init__(self, width: int):
        self.width = width

    def __call__(self, texts, add_special_tokens=False):
        from types import SimpleNamespace

        return SimpleNamespace(input_ids=[list(range(math.ceil(len(t.lstrip()) / self.width))) for t in texts])


def test_answer_budgets_hold_the_same_characters_under_every_tokenizer():
    """Issue 21, point 4: a budget in tokens holds three times the text under a tokenizer with three
    characters per token; a budget in characters gives each tokenizer the tokens that text takes
    (its measured tokens per character), up to the ceiling, and says where the ceiling cut it."""
    from telugu_llm.evaluation.budget import answer_limits, cut_at_budget

    items = [{"set": "embedded", "task": "translation", "lang": "te", "instruction": "x", "references": ["ab" * 30]},
             {"set": "embedded", "task": "qa", "lang": "te", "instruction": "x", "references": ["abcde" * 6]},
             {"set": "study_probes", "task": "safety", "lang": "te", "instruction": "q" * 60, "references": []}]
    chars = {"translation": 60, "qa": 30, "safety": 90}
    ceiling = {"translation": 100, "qa": 100, "safety": 40}
    base, _ = answer_limits(CharTokenizer(1), items, answer_budget="chars", max_new_chars=chars, max_new_tokens=ceiling)
    twin, budgets = answer_limits(CharTokenizer(3), items, answer_budget="chars", max_new_chars=chars,
                                  max_new_tokens=ceiling)
    assert base == [60, 30, 40] and twin == [20, 10, 30]  # the instructions measure a group without references
    assert budgets["embedded/translation/te"] == {"unit": "chars", "chars": 60, "tokens_per_char": pytest.approx(1 / 3),
                                                  "max_new_tokens": 20, "capped": False}
    assert answer_limits(CharTokenizer(1), items, answer_budget="chars", max_new_chars=chars,
                         max_new_tokens=ceiling)[1]["study_probes/safety/te"]["capped"] is True
    tokens, _ = answer_limits(CharTokenizer(3), items, answer_budget="tokens", max_new_chars=chars, max_new_tokens=ceiling)
    assert tokens == [100, 100, 40]
    cut = cut_at_budget(["a", "a", "b", "b"], ["length", "eos", "length", "length"])
    assert cut == {"answers": 4, "cut": 3, "share": 0.75, "groups": {"a": 0.5, "b": 1.0}}
