"""The adaptation stage (issue 23): initialisations of the new rows, packed text, continued
pretraining of an extended model and of its base, the held-out measures and their comparison rows."""

import itertools
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
import torch

from telugu_llm.adapt.init import init_parts, overlap_parts
from telugu_llm.adapt.pack import batches, pack
from telugu_llm.adapt.replay import english_sentences, interleave, mix, token_counts
from telugu_llm.adapt.run import AdaptSettings, adapt, adapted_layers, baseline_rows
from telugu_llm.adapt.run import settings_of as adapt_settings_of
from telugu_llm.atomic import write_json
from telugu_llm.config import check_config
from telugu_llm.errors import InputError
from telugu_llm.evaluation.adaptation import (adaptation_rows, comparison_pairs, generation_speed, prompts_of,
                                              sentence_bits, system_names)
from telugu_llm.loading import load_tokenizer
from telugu_llm.resources import SOURCE_JSON
from telugu_llm.tokens.tokenizer import piece_bytes
from telugu_llm.vocab.embeddings import extend_model, is_adapted, mean_parts, read_extension

from test_vocab import TRAIN_EN, TRAIN_TE, build

LAYERS = 4
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def extended(tmp_path_factory, tokenizer_dirs):
    """A random 4-layer Llama with Llama-2's tokenizer (a weights resource), and that tokenizer
    extended by 600 Telugu pieces."""
    import transformers

    root = tmp_path_factory.mktemp("adapt")
    tokenizer = load_tokenizer(tokenizer_dirs["llama2"])
    config = transformers.LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                                      num_hidden_layers=LAYERS, num_attention_heads=4, num_key_value_heads=4,
                                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                      tie_word_embeddings=False)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(root / "model", safe_serialization=True)
    write_json(root / "model" / SOURCE_JSON, {"name": "tiny_llama", "spec": {"source": "random"}})
    build("llama2_te600", tokenizer_dirs["llama2"], 600, root, key="vocab.extend.tiny_llama.pieces")
    return {"model": root / "model", "tokenizer": root / "llama2_te600", "base_tokenizer": Path(tokenizer_dirs["llama2"]),
            "root": root}


# --- initialisation -------------------------------------------------------------------------------

def test_overlap_weighs_every_base_piece_inside_a_new_piece_by_its_length(extended):
    tokenizer_json = json.loads((extended["tokenizer"] / "tokenizer.json").read_text(encoding="utf-8"))
    extension = read_extension(extended["tokenizer"])
    parts = overlap_parts(tokenizer_json, extension)
    vocab = {i: p for p, i in tokenizer_json["model"]["vocab"].items()}
    assert len(parts) == len(extension["pieces"])
    for piece, split, row in zip(extension["pieces"], extension["base_splits"], parts):
        assert math.isclose(sum(w for _, w in row), 1.0)
        assert all(i < extension["first_new_id"] for i, _ in row)  # base rows only
        data = piece_bytes(piece, False)
        for i, w in row:  # each part is inside the piece, weighted by its length
            assert piece_bytes(vocab[i], False) in data
        lengths = {i: len(piece_bytes(vocab[i], False)) for i, _ in row}
        ratio = {w / lengths[i] for i, w in row}
        assert max(ratio) - min(ratio) < 1e-9 or len({i for i, _ in row}) < len(row)  # w proportional to length
    # "▁తెలుగు" is spelled by Llama-2 with byte pieces; overlap adds the characters Llama-2 has whole
    piece = next(p for p in extension["pieces"] if len(piece_bytes(p, False)) >= 9)
    n = extension["pieces"].index(piece)
    assert len(parts[n]) > len(set(extension["base_splits"][n])) - 1
    assert init_parts("mean", tokenizer_json, extension) == mean_parts(extension)
    with pytest.raises(InputError, match="adapt.inits: unknown initialisation 'random'"):
        init_parts("random", tokenizer_json, extension)


def test_new_rows_are_the_weighted_sum_their_initialisation_names(extended):
    from transformers import AutoModelForCausalLM

    tokenizer_json = json.loads((extended["tokenizer"] / "tokenizer.json").read_text(encoding="utf-8"))
    extension = read_extension(extended["tokenizer"])
    parts = overlap_parts(tokenizer_json, extension)
    model = AutoModelForCausalLM.from_pretrained(extended["model"])
    before = model.get_input_embeddings().weight.detach().clone()
    size = extension["first_new_id"] + len(extension["pieces"])
    extend_model(model, extension, size, model_name="tiny_llama", tokenizer="llama2_te600", parts=parts)
    after = model.get_input_embeddings().weight
    for k in (0, len(parts) // 2, len(parts) - 1):
        expected = sum(w * before[i] for i, w in parts[k])
        assert torch.allclose(after[extension["first_new_id"] + k], expected, atol=1e-6)
    assert torch.equal(after[:extension["first_new_id"]], before)


# --- packing --------------------------------------------------------------------------------------

def test_packing_keeps_every_token_in_rows_of_the_length_asked(tokenizer_dirs):
    tokenizer = load_tokenizer(tokenizer_dirs["llama2"])
    sentences = TRAIN_TE[:5]
    packed = pack(tokenizer, sentences, 16)
    stream = sum(packed.rows, [])
    expected = []
    for ids in tokenizer(sentences)["input_ids"]:
        expected += ids + [tokenizer.eos_token_id]
    assert stream == expected and packed.tokens == len(expected)
    assert all(len(r) == 16 for r in packed.rows[:-1]) and 0 < len(packed.rows[-1]) <= 16
    assert packed.sentences == 5 and packed.characters == sum(map(len, sentences))
    ids, mask, labels = next(batches(packed.rows, 8, 0, list(range(len(packed.rows)))[-2:]))
    assert ids.shape == (2, 16) and int(mask.sum()) == 16 + len(packed.rows[-1])
    assert (labels[mask == 0] == -100).all() and torch.equal(labels[mask == 1], ids[mask == 1])


def test_lora_goes_on_the_bottom_and_top_layers():
    assert adapted_layers(30, 2) == [0, 1, 28, 29]
    assert adapted_layers(4, 1) == [0, 3]
    assert adapted_layers(4, 2) is None and adapted_layers(30, None) is None


# --- the adaptation -------------------------------------------------------------------------------

def settings_of(**values) -> AdaptSettings:
    """The schema's defaults (adapt), changed by `values`."""
    from telugu_llm.config import with_defaults

    return AdaptSettings(**{**adapt_settings_of(with_defaults({}, "adapt"), device="cpu"), **values})


@pytest.fixture(scope="module")
def adapted(extended):
    settings = settings_of(seq_len=32, batch_size=4, epochs=2, learning_rate=0.01, lora_r=4, layers=1)
    out = {}
    for name, tokenizer, init in (("tiny_llama", extended["base_tokenizer"], None),
                                  ("tiny_llama_te600", extended["tokenizer"], "overlap")):
        root = extended["root"] / "adapted" / (init or "none")
        facts = adapt(name=name, model_dir=extended["model"], tokenizer_dir=tokenizer, sentences=TRAIN_TE[:40],
                      init=init, settings=settings, out_dir=root / "model", facts_path=root / "adaptation.json")
        out[init or "none"] = {"dir": root / "model", "facts": facts, "tokenizer": tokenizer}
    return out


def _weights(model_dir):
    from safetensors.torch import load_file

    return {k: v for f in Path(model_dir).glob("*.safetensors") for k, v in load_file(f).items()}


def test_an_adaptation_trains_the_new_rows_and_the_outer_layers_and_keeps_the_rest(extended, adapted):
    twin = _weights(adapted["overlap"]["dir"])
    # "as they were" in the dtype the adaptation computes and saves in (bfloat16 on a CPU with AMX or
    # AVX512-BF16, as on a GPU; float32 elsewhere)
    base = {k: v.to(twin[k].dtype) for k, v in _weights(extended["model"]).items()}
    extension = read_extension(extended["tokenizer"])
    first = extension["first_new_id"]
    embed = "model.embed_tokens.weight"
    assert twin[embed].shape[0] == first + len(extension["pieces"])
    assert torch.equal(twin[embed][:first], base[embed][:first])  # base rows as they were
    tokenizer_json = json.loads((extended["tokenizer"] / "tokenizer.json").read_text(encoding="utf-8"))
    parts = overlap_parts(tokenizer_json, extension)
    init = torch.stack([sum(w * base[embed][i] for i, w in p) for p in parts])
    assert not torch.allclose(twin[embed][first:], init)  # trained
    for layer, changed in ((0, True), (1, False), (2, False), (3, True)):  # LoRA on the bottom and top layer
        key = f"model.layers.{layer}.self_attn.q_proj.weight"
        assert torch.equal(twin[key], base[key]) != changed, key
    assert torch.equal(twin["model.norm.weight"], base["model.norm.weight"])
    facts = adapted["overlap"]["facts"]
    assert facts["init"] == "overlap" and facts["layers"] == [0, 3] and facts["new_rows"] == len(extension["pieces"])
    assert facts["steps"] == math.ceil(2 * facts["rows"] / 4) and facts["text"]["sentences"] == 40
    assert facts["loss_last"] < facts["loss_first"]
    assert json.loads((extended["root"] / "adapted" / "overlap" / "adaptation.json").read_text())["steps"] == facts["steps"]
    assert is_adapted(adapted["overlap"]["dir"]) and not is_adapted(extended["model"])


def test_the_baseline_sees_the_same_text_in_more_tokens(adapted):
    base, twin = adapted["none"]["facts"], adapted["overlap"]["facts"]
    assert base["text"]["sentences"] == twin["text"]["sentences"] == 40
    assert base["text"]["characters"] == twin["text"]["characters"]
    assert twin["text"]["tokens"] < base["text"]["tokens"] / 2 and twin["steps"] < base["steps"]
    assert base["new_rows"] == 0 and base["init"] is None


def test_adapted_rows_are_kept_when_training_or_evaluation_loads_them(extended, adapted):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(adapted["overlap"]["dir"])
    saved = model.get_input_embeddings().weight.detach().clone()
    extension = read_extension(extended["tokenizer"])
    size = extension["first_new_id"] + len(extension["pieces"])
    indices = extend_model(model, extension, size, model_name="tiny_llama_te600", tokenizer="llama2_te600",
                           rows_ready=True)
    assert torch.equal(model.get_input_embeddings().weight, saved)  # not re-initialised
    assert indices["embed_tokens"] == list(range(extension["first_new_id"], size))
    base = AutoModelForCausalLM.from_pretrained(adapted["none"]["dir"])
    with pytest.raises(InputError, match="models.tiny_llama_te600.tokenizer: the adapted weights have 32000 embedding rows"):
        extend_model(base, extension, size, model_name="tiny_llama_te600", tokenizer="llama2_te600", rows_ready=True)


def test_a_token_budget_trains_the_extension_as_many_steps_and_tokens_as_its_baseline(extended, tmp_path):
    settings = settings_of(seq_len=16, batch_size=4, lora_r=2)
    runs = {}
    for name, tokenizer, init in (("tiny_llama", extended["base_tokenizer"], None),
                                  ("tiny_llama_te600", extended["tokenizer"], "mean")):
        rows = None if init is None else baseline_rows(extended["base_tokenizer"], TRAIN_TE[:5], settings)
        runs[name] = adapt(name=name, model_dir=extended["model"], tokenizer_dir=tokenizer, sentences=TRAIN_TE[:5],
                           init=init, settings=settings, out_dir=tmp_path / name / "m",
                           facts_path=tmp_path / name / "f.json", rows=rows)
    base, twin = runs["tiny_llama"], runs["tiny_llama_te600"]
    assert base["budget"] == "text" and base["passes"] == 1 and base["steps"] == math.ceil(base["rows"] / 4)
    assert twin["budget"] == "tokens" and twin["steps"] == base["steps"]
    assert twin["text"]["tokens"] < base["text"]["tokens"] / 2 and twin["passes"] > 2  # its shorter spelling, again
    # as many rows of 16 tokens: the same tokens trained but for the last row of each pass, which is shorter
    assert 0 <= base["tokens_trained"] - twin["tokens_trained"] <= 15 * math.ceil(twin["passes"])
    assert twin["sentences_per_second"] == pytest.approx(5 * twin["passes"] / twin["train_seconds"])


def test_a_long_adaptation_logs_its_progress(extended, tmp_path, caplog):
    """About 20 progress lines whatever the length, the last at the final step (a 30k-sentence
    adaptation of a 7B model runs for hours)."""
    caplog.set_level("INFO", logger="telugu_llm.adapt.run")
    facts = adapt(name="tiny_llama", model_dir=extended["model"], tokenizer_dir=extended["base_tokenizer"],
                  sentences=TRAIN_TE[:3], init=None, settings=settings_of(seq_len=16, batch_size=1, lora_r=2),
                  out_dir=tmp_path / "m", facts_path=tmp_path / "f.json")
    steps = [int(m.group(1)) for m in (re.search(rf"tiny_llama: step (\d+) of {facts['steps']}, loss", r.message)
                                       for r in caplog.records) if m]
    every = facts["steps"] // 20
    assert every >= 1 and steps == list(range(every, facts["steps"] + 1, every)) + (
        [facts["steps"]] if facts["steps"] % every else []), (facts["steps"], steps)
    assert 20 <= len(steps) <= 40


def test_an_adaptation_without_text_is_one_error(extended, tmp_path):
    with pytest.raises(InputError, match="adapt.sources: no adaptation text"):
        adapt(name="tiny_llama", model_dir=extended["model"], tokenizer_dir=extended["base_tokenizer"], sentences=[],
              init=None, settings=settings_of(), out_dir=tmp_path / "m", facts_path=tmp_path / "f.json")
    assert not list(tmp_path.iterdir())


# --- English replay -------------------------------------------------------------------------------

def test_english_replay_is_spread_evenly_in_both_lists_orders():
    assert interleave(list("abcd"), list("xy")) == list("axbcyd")
    assert interleave(list("ab"), []) == list("ab") and interleave([], list("xy")) == list("xy")
    mixed = interleave([f"t{i}" for i in range(300)], [f"e{j}" for j in range(100)])
    english = [i for i, s in enumerate(mixed) if s.startswith("e")]
    assert [mixed[i] for i in english] == [f"e{j}" for j in range(100)]
    assert max(b - a for a, b in zip(english, english[1:])) == 4  # one in every four, never bunched


def test_english_replay_is_the_share_asked_of_the_base_tokens_the_same_mixture_for_every_system(extended):
    base = load_tokenizer(str(extended["base_tokenizer"]))
    text, english = TRAIN_TE[:40], TRAIN_EN
    mixture = mix(text, english, 0.25, base)
    facts = mixture.facts
    te_tokens = sum(token_counts(base, text))
    assert facts["text_tokens"] == te_tokens == pack(base, text, 64).tokens  # counted as packing streams them
    chosen = english[:facts["sentences"]]  # the first, in order
    assert facts["tokens"] == sum(token_counts(base, chosen)) and "short" not in facts
    last = token_counts(base, chosen)[-1]
    assert facts["tokens"] - last < te_tokens / 3 <= facts["tokens"]  # 25 % of the mixture: a third of the text's
    assert 0.25 <= facts["share"] < 0.25 + last / te_tokens
    assert sorted(mixture.sentences) == sorted(text + chosen)
    assert [s for s in mixture.sentences if s in set(text)] == text  # the text's order kept
    assert mix(text, english, 0.25, base).facts["sha256"] == facts["sha256"]  # what each system's run computes
    # the extension spells the Telugu in fewer tokens: the same mixture is a larger English share of its tokens
    twin = load_tokenizer(str(extended["tokenizer"]))
    twin_share = sum(token_counts(twin, chosen)) / sum(token_counts(twin, mixture.sentences))
    assert twin_share > 0.4
    none = mix(text, english, 0, base)
    assert none.sentences == text and none.facts == {"share_asked": 0.0, "sha256": none.facts["sha256"]}


def test_english_replay_short_of_the_share_asked_uses_all_and_says_so(extended):
    base = load_tokenizer(str(extended["base_tokenizer"]))
    mixture = mix(TRAIN_TE[:40], iter(TRAIN_EN[:3]), 0.5, base)
    facts = mixture.facts
    assert facts["sentences"] == 3 and len(mixture.sentences) == 43
    assert facts["share"] < 0.5 and re.fullmatch(
        r"the replay sources hold [\d,]+ English tokens, \d+\.\d% of the mixture's \(adapt.replay.share asks 50%\): "
        r"all are used", facts["short"])


def test_english_replay_never_reads_held_out_english(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    for split, pairs in (("train", [("Kept one.", "a"), ("Held out.", "b"), ("", "c"), ("Kept two.", "d")]),
                         ("validation", [("Held out.", "x")]), ("test", [("Tested.", "y")])):
        (tmp_path / split).mkdir()
        pq.write_table(pa.table({"src": [p[0] for p in pairs], "tgt": [p[1] for p in pairs]}),
                       tmp_path / split / "part-00000.parquet")
    (tmp_path / "en.txt").write_text("Tested.\nFrom a file.\n", encoding="utf-8")
    (tmp_path / "guanaco" / "train").mkdir(parents=True)
    turns = [[{"role": "user", "content": "An English turn.\nIts second line."}], [{"role": "user", "content": "Hola."}]]
    pq.write_table(pa.table({"lang": ["en", "es"], "turns": turns}), tmp_path / "guanaco" / "train" / "part-00000.parquet")
    counts = {}
    english = english_sentences(sources=["samanantar", "guanaco", "file"], samanantar_dir=tmp_path,
                                guanaco_dir=tmp_path / "guanaco", text_path=str(tmp_path / "en.txt"), counts=counts)
    assert list(english) == ["Kept one.", "Kept two.", "An English turn.", "Its second line.", "From a file."]
    assert counts["samanantar"] == {"read": 4, "empty": 1, "held_out": 1, "used": 2}
    assert counts["guanaco"] == {"read": 2, "empty": 0, "held_out": 0, "used": 2}  # its English turns only
    assert counts["file"] == {"read": 2, "empty": 0, "held_out": 1, "used": 1}


def test_english_replay_reads_its_sources_only_as_far_as_the_share_needs(extended):
    """At paper scale the training split's English is 4.9M sentences: the mixture takes what it needs."""
    base = load_tokenizer(str(extended["base_tokenizer"]))
    read = []

    def english():
        for n in itertools.count():
            read.append(n)
            yield f"English sentence number {n} of a very long source."

    mixture = mix(TRAIN_TE[:40], english(), 0.25, base)
    assert 10 < mixture.facts["sentences"] < len(read) <= mixture.facts["sentences"] + 1024


# --- measures -------------------------------------------------------------------------------------

def test_bits_per_character_count_the_sentences_own_tokens_and_characters(extended, adapted):
    from transformers import AutoModelForCausalLM

    tokenizer = load_tokenizer(str(extended["base_tokenizer"]))
    model = AutoModelForCausalLM.from_pretrained(extended["model"]).eval()
    sentence = TRAIN_TE[0]
    (bits, chars), = sentence_bits(model, tokenizer, [sentence])
    ids = [tokenizer.bos_token_id] + tokenizer(sentence, add_special_tokens=False).input_ids
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1]
    nll = torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum")
    assert chars == len(sentence) and math.isclose(bits, float(nll) / math.log(2), rel_tol=1e-4)


def test_generation_is_asked_for_the_same_characters_under_each_tokenizer(extended):
    from transformers import AutoModelForCausalLM

    prompts = prompts_of(TRAIN_TE[100:110], 3)
    assert len(prompts) == 3 and all(len(p.split()) == 3 for p in prompts)
    limits = {}
    for key in ("base_tokenizer", "tokenizer"):
        tokenizer = load_tokenizer(str(extended[key]))
        model = AutoModelForCausalLM.from_pretrained(extended["model"]).eval()
        extend_model(model, read_extension(extended[key]), len(tokenizer), model_name="m", tokenizer=extended[key].name)
        per_item, budget = generation_speed(model, tokenizer, prompts, max_new_chars=20, fertility_text=TRAIN_TE[:20])
        assert len(per_item) == 3 and all(chars > 0 and seconds > 0 for chars, seconds in per_item)
        assert budget["max_new_tokens"] == math.ceil(20 * budget["tokens_per_char"])
        limits[key] = budget["max_new_tokens"]
    assert limits["tokenizer"] < limits["base_tokenizer"] / 2  # the extended tokenizer needs fewer tokens


def test_comparison_rows_are_paired_over_the_same_items_and_name_the_adapted_systems():
    names = system_names("m", "m_te9", ["mean"])
    rows = []
    values = {names["untouched"]: 2.0, names["adapted"]: 1.5, names["twin_adapted_mean"]: 1.4,
              names["twin_initialised_mean"]: 3.0}
    for system, level in values.items():
        for measure in ("bits_te", "bits_en", "generation"):
            for item in range(6):
                rows.append({"system": system, "measure": measure, "item": item,
                             "x": level * (10 + item) + 0.1 * (-1) ** item * len(system), "y": 10 + item})
    summary = {"sentences": 6, "prompts": ["a"] * 6, "systems": {
        s: {"adaptation": {"sentences_per_second": 4.0 if "te9" in s else 2.0, "text": {"sentences": 24}}
            if "adapted" in s and "not" not in s else None} for s in values}}
    out = pd.DataFrame(adaptation_rows(model="m", twin="m_te9", inits=["mean"], lang="te", items=pd.DataFrame(rows),
                                       summary=summary, confidence=0.95))
    assert comparison_pairs("m", "m_te9", ["mean"]) == [("m", "m adapted"), ("m adapted", "m_te9 adapted (mean)"),
                                                        ("m", "m_te9 adapted (mean)"), ("m", "m_te9 not adapted (mean)")]
    assert set(out.measure) == {"bits per character (te)", "bits per character (en)", "generated characters/s",
                                "training sentences/s"}
    assert all("adapt" in m or "adapt" in t for m, t in zip(out.model, out.twin))
    claim = out[(out.model == "m adapted") & (out.twin == "m_te9 adapted (mean)")].set_index("measure")
    row = claim.loc["bits per character (te)"]
    assert math.isclose(row.base, 1.5) and math.isclose(row.extended, 1.4) and row.n == 6
    assert math.isclose(row.ratio, 1.4 / 1.5) and row.ci_low <= row["diff"] <= row.ci_high
    assert "the same 6 test sentences" in row.method
    assert "the same 6 prompts" in claim.loc["generated characters/s"].method
    assert math.isclose(claim.loc["training sentences/s"].ratio, 2.0)
    # an unadapted system has no training time: no such row
    assert not ((out.twin == "m_te9 not adapted (mean)") & (out.measure == "training sentences/s")).any()


# --- configuration --------------------------------------------------------------------------------

def _config(**adapt):
    import copy

    import yaml

    config = copy.deepcopy(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
    config["adapt"].update(adapt)
    return config


def test_adaptation_without_an_extended_model_or_enabled_stage_is_refused(tmp_path):
    from telugu_llm.config import check_given_entries

    config = _config(enabled=True)
    config["vocab"]["extend"] = {}
    config["vocab"]["curve"] = []
    check_config(config)  # the default's own adapt.enabled, inherited by a config that extends nothing
    with pytest.raises(InputError, match=r"config key adapt.enabled \(config file x.yaml\): true, but no extended "
                                         "model is trained"):
        check_given_entries(config, [("config file x.yaml", {"adapt": {"enabled": True}})])
    with pytest.raises(InputError, match="config key adapt.instruction_tuning: true, but adapt.enabled is false"):
        check_config(_config(enabled=False, instruction_tuning=True))
    with pytest.raises(InputError, match="config key adapt.text_path: required when adapt.sources has file"):
        check_config(_config(sources=["file"]))
    with pytest.raises(InputError, match=f"config key adapt.text_path: file {tmp_path}/none.txt does not exist"):
        check_config(_config(sources=["file"], text_path=str(tmp_path / "none.txt")))
    with pytest.raises(InputError, match="config key adapt.replay.text_path: required when adapt.replay.sources has file"):
        check_config(_config(replay={"share": 0.2, "sources": ["file"]}))
    with pytest.raises(InputError, match=f"config key adapt.replay.text_path: file {tmp_path}/en.txt does not exist"):
        check_config(_config(replay={"share": 0.2, "sources": ["file"], "text_path": str(tmp_path / "en.txt")}))
    with pytest.raises(InputError, match=r"adapt.replay.share.*0.95"):
        check_config(_config(replay={"share": 0.95}))
    check_config(_config(replay={"share": 0, "sources": ["file"]}))  # no replay: its sources are not read
    check_config(_config())


def test_instruction_tuning_starts_from_the_adapted_weights(workflow):
    """adapt.instruction_tuning: the extended model's runs (training and evaluation) read its
    adaptation with the first of adapt.inits; the model it extends keeps its retrieved weights (its
    runs are the study's); without it, both read the retrieved weights, and the adaptation is
    measured beside them."""
    import yaml

    from conftest import snakemake

    (workflow / "it.yaml").write_text(yaml.safe_dump({"adapt": {"instruction_tuning": True, "inits": ["overlap", "mean"]}}))
    plan = snakemake(workflow, "-n", "results/report.html", "--configfile", "it.yaml").stdout
    jobs = re.split(r"\n(?=rule \w+:)", plan)
    trained = {j.split("output: ")[1].split("/adapter")[0]: j for j in jobs if "rule train_run:" in j}
    twin = next(j for out, j in trained.items() if "smollm2_135m_te400/" in out)
    base = next(j for out, j in trained.items() if "/smollm2_135m/" in out)
    assert "results/adapt/smollm2_135m_te400/overlap/model" in twin.split("output:")[0]
    assert "resources/models/smollm2_135m," in base.split("output:")[0]  # the model extended keeps its weights
    gemma = next(j for out, j in trained.items() if "gemma3_270m" in out)
    assert "resources/models/gemma3_270m" in gemma.split("output:")[0]
    evaluated = [j for j in jobs if "rule evaluate_run:" in j and "smollm2_135m_te400/" in j]
    assert evaluated and all("results/adapt/smollm2_135m_te400/overlap/model" in j for j in evaluated)
    plain = snakemake(workflow, "-n", "results/report.html").stdout
    assert "rule adapt_measure:" in plain
    assert not any("results/adapt/" in j.split("output:")[0] for j in re.split(r"\n(?=rule \w+:)", plain)
                   if "rule train_run:" in j)
