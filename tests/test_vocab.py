"""The vocabulary stage: tokenizers extended with Telugu pieces (SentencePiece-style and byte-level),
the checks that guard them, the model rows of the new pieces, training them, loading them for
evaluation, and the bad inputs."""

import copy
import json
import unicodedata
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer

from telugu_llm.config import active_models, check_config, with_defaults
from telugu_llm.errors import InputError
from telugu_llm.loading import Quantization, load_tokenizer
from telugu_llm.resources import sha256_file
from telugu_llm.vocab.embeddings import check_adapter_rows, check_rows, extend_model, read_extension
from telugu_llm.vocab.check import check_extension
from telugu_llm.vocab.extend import build_extended, extend, extend_from_text, script_piece, tokenizer_kind
from telugu_llm.vocab.learn import learn, learn_all, learn_sentencepiece, take
from telugu_llm.vocab.text import file_sentences, learning_text

from conftest import planned_jobs

REPO = Path(__file__).resolve().parents[1]
TRAIN_TE = (REPO / "data" / "samanantar" / "en-te" / "train.te").read_text(encoding="utf-8").splitlines()
TRAIN_EN = (REPO / "data" / "samanantar" / "en-te" / "train.en").read_text(encoding="utf-8").splitlines()
# what Telugu spelling puts through a tokenizer: a ZWNJ-separated half form, conjuncts, Telugu and
# ASCII digits, the danda and double danda (Devanagari's block, used in Telugu), nukta-free NFC
HARD = ["క్‌ష కంటే క్ష వేరు.", "శ్రీ స్త్రీ క్ష్మ ద్వ్య", "౧౨౩ మంది, 2024 లో ౪౫% పెరిగింది।", "ఇది ముగింపు॥",
        "ఆంధ్రప్రదేశ్‌లో ఎన్నికలు", unicodedata.normalize("NFD", "కొ") + " విడిగా రాసినది"]


def learned(base_dir: str, pieces: int, sentences=None):
    base_json = json.loads((Path(base_dir) / "tokenizer.json").read_text(encoding="utf-8"))
    return base_json, extend_from_text(base_json, sentences or TRAIN_TE, pieces, "te", key="vocab.extend.m.pieces")


def build(name: str, base_dir: str, pieces: int, root: Path, texts=None, key="vocab.extend.m.pieces") -> dict:
    """An extended tokenizer resource, learned and checked as vocab_learn and vocab_extend do."""
    base_json = json.loads((Path(base_dir) / "tokenizer.json").read_text(encoding="utf-8"))
    learn_all({"base": (base_json, tokenizer_kind(base_json, key))}, TRAIN_TE, pieces, root / "learned", key=key,
              text_facts={"sentences": len(TRAIN_TE)})
    return build_extended(name=name, base_dir=Path(base_dir), learned_dir=root / "learned", pieces=pieces, lang="te",
                          texts=[("train.te, line", texts or TRAIN_TE)], english=[("train.en, line", TRAIN_EN)],
                          out_dir=root / name, key=key)


@pytest.mark.parametrize("name, pieces, kind", [("llama2", 600, "sentencepiece"), ("smollm2", 300, "byte_level")])
def test_an_extension_round_trips_real_telugu_and_leaves_english_and_base_ids_as_they_were(
        default_tokenizer_dirs, name, pieces, kind):
    base_json, ext = learned(default_tokenizer_dirs[name], pieces)
    assert ext.kind == kind and ext.learned == pieces and 0 < len(ext.new_pieces) <= pieces
    base, extended = (Tokenizer.from_str(json.dumps(j)) for j in (base_json, ext.tokenizer_json))
    facts = check_extension(base, extended, texts=[("te", TRAIN_TE + HARD)], other=[("en", TRAIN_EN)], key="k")
    assert facts["round_trip_sentences"] == len(TRAIN_TE) + len(HARD) and facts["english_sentences"] == len(TRAIN_EN)
    assert facts["round_trip_left_out_base_cannot_give_back"] == 0
    assert facts["tokens_extended"] < facts["tokens_base"] / 2, facts  # what it is for
    for text in HARD:
        nfc = unicodedata.normalize("NFC", text)
        assert extended.decode(extended.encode(nfc, add_special_tokens=False).ids, skip_special_tokens=False) == nfc
    # every base piece keeps its id; the new ones come after every base id, contiguous, in order
    old, new = base_json["model"]["vocab"], ext.tokenizer_json["model"]["vocab"]
    assert all(new[piece] == i for piece, i in old.items())
    assert [new[p] for p in ext.new_pieces] == list(range(ext.first_new_id, ext.first_new_id + len(ext.new_pieces)))
    assert ext.first_new_id == base.get_vocab_size(with_added_tokens=True)
    assert all(script_piece(p, kind, "te") for p in ext.new_pieces)
    # English, digits and punctuation outside the script encode exactly as before
    for text in ("The 2024 budget was passed.", "Hello, world! (3.5%)"):
        assert base.encode(text).ids == extended.encode(text).ids


def test_the_extended_tokenizer_is_a_resource_analysed_like_any_other(default_tokenizer_dirs, tmp_path):
    out = tmp_path / "smollm2_te300"
    source = build("smollm2_te300", default_tokenizer_dirs["smollm2"], 300, tmp_path,
                   key="vocab.extend.smollm2_135m.pieces")
    ext = source["extension"]
    learned = tmp_path / "learned" / f"{ext['learned_model']['learner']}.json"
    assert ext["learned_model"]["sha256"] == sha256_file(learned) and ext["text"] == {"sentences": len(TRAIN_TE)}
    assert source["vocab_size"] == len(load_tokenizer(str(out))) == ext["first_new_id"] + ext["added"]
    assert ext["base"] == "smollm2" and len(source["sha256"]) == 64 and len(ext["base_sha256"]) == 64
    extension = read_extension(out)
    assert len(extension["base_splits"]) == ext["added"] == len(extension["pieces"])
    tokenizer = load_tokenizer(str(out))
    ids = tokenizer("తెలుగు భాష", add_special_tokens=False).input_ids
    assert any(i >= ext["first_new_id"] for i in ids) and tokenizer.decode(ids) == "తెలుగు భాష"
    from telugu_llm.tokens.fertility import analyse_tokenizer

    rows, _, shown = analyse_tokenizer(name="smollm2_te300", resource_dir=str(out), batch_size=100,
                                       corpora=[{"name": "c", "lang": "te", "src": TRAIN_EN[:50], "tgt": TRAIN_TE[:50]}],
                                       example=(TRAIN_EN[0], TRAIN_TE[0]))
    assert rows[1]["premium"] < 6 and shown["tgt"]


@pytest.mark.parametrize("name, pieces, message", [
    ("llama2", 10 ** 6, f"vocab.extend.m.pieces: 1000000 pieces asked for, but the text ({len(TRAIN_TE)} sentences) supports at most"),
    ("smollm2", 100000, f"vocab.extend.m.pieces: 100000 pieces asked for, but the text ({len(TRAIN_TE)} sentences) supports at most"),
    ("llama2", 5, "vocab.extend.m.pieces: 5 pieces asked for, but the text has"),
])
def test_more_pieces_than_the_text_supports_is_one_error_naming_the_key(default_tokenizer_dirs, name, pieces, message):
    with pytest.raises(InputError) as err:
        learned(default_tokenizer_dirs[name], pieces)
    assert str(err.value).startswith(message), str(err.value)


def test_a_tokenizer_the_stage_cannot_extend_is_one_error_naming_the_key(default_tokenizer_dirs):
    base = json.loads((Path(default_tokenizer_dirs["llama2"]) / "tokenizer.json").read_text(encoding="utf-8"))
    unigram = {**base, "model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["a", -1.0]]}}
    with pytest.raises(InputError, match=r"^vocab.extend.m.pieces: the tokenizer is a Unigram model"):
        extend_from_text(unigram, TRAIN_TE, 100, "te", key="vocab.extend.m.pieces")
    with pytest.raises(InputError, match="none of the 300 pieces learned is a new piece of the te script"):
        extend_from_text(base, TRAIN_EN, 300, "te", key="vocab.extend.m.pieces")  # English text: nothing Telugu to add


def test_a_round_trip_that_fails_names_the_first_sentence_that_differs(default_tokenizer_dirs):
    base_json, ext = learned(default_tokenizer_dirs["llama2"], 600)
    lossy = copy.deepcopy(ext.tokenizer_json)
    lossy["normalizer"] = {"type": "Lowercase"}  # a tokenizer that loses case
    base, broken = (Tokenizer.from_str(json.dumps(j)) for j in (base_json, lossy))
    texts = ["తెలుగు వార్తలు", "ఇది సరే", "NASA ప్రకటన", "RBI వడ్డీ"]
    with pytest.raises(InputError) as err:  # named by its source and line, in chunks of 2
        check_extension(base, broken, texts=[("a.te, line", ["ఒకటి"]), ("b.te, line", texts)], other=[],
                        key="vocab.extend.m.pieces", chunk=2)
    assert str(err.value).startswith("vocab.extend.m.pieces: the extended tokenizer does not give back b.te, line 3 "
                                     "(the base tokenizer gives it back): 'NASA ప్రకటన' came back as 'nasa ప్రకటన'")


# web-mined lines no tokenizer of the study gives back (a literal U+2581 becomes a space) and lines
# that spell its special tokens
UNRECOVERABLE = ["ఇది ▁ గుర్తు", "▁▁తెలుగు", "వార్త </s> ముగింపు", "<s> ప్రారంభం", "ముగింపు</s>"]


def test_lines_the_base_cannot_give_back_either_are_left_out_and_counted(tokenizer_dirs, tmp_path):
    base = Tokenizer.from_file(str(Path(tokenizer_dirs["llama2"]) / "tokenizer.json"))
    lost = [t for t in UNRECOVERABLE
            if base.decode(base.encode(t, add_special_tokens=False).ids, skip_special_tokens=False) != t]
    assert "ఇది ▁ గుర్తు" in lost
    source = build("llama2_te600", tokenizer_dirs["llama2"], 600, tmp_path, texts=TRAIN_TE + UNRECOVERABLE)
    ext = source["extension"]
    assert ext["round_trip_left_out_base_cannot_give_back"] == len(lost)
    assert ext["round_trip_sentences"] == len(TRAIN_TE) + len(UNRECOVERABLE) - len(lost)
    assert ext["english_sentences"] == len(TRAIN_EN)


class Recording:
    """A tokenizer that records the size of every batch it encodes and, at each, how many sentences
    the source had yielded so far."""

    def __init__(self, tokenizer, pulled):
        self.tokenizer, self.pulled, self.batches = tokenizer, pulled, []

    def encode_batch(self, texts, **kwargs):
        self.batches.append((len(texts), self.pulled[0]))
        return self.tokenizer.encode_batch(texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


def test_the_check_streams_its_sentences_a_chunk_at_a_time(default_tokenizer_dirs):
    base_json, ext = learned(default_tokenizer_dirs["llama2"], 600)
    pulled = [0]

    def lazily(lines):
        for line in lines:
            pulled[0] += 1
            yield line

    corpus = TRAIN_TE * 4  # 1,320 sentences, in chunks of 100
    base, extended = (Recording(Tokenizer.from_str(json.dumps(j)), pulled) for j in (base_json, ext.tokenizer_json))
    facts = check_extension(base, extended, texts=[("te", lazily(corpus))], other=[("en", lazily(TRAIN_EN))],
                            key="k", chunk=100)
    assert facts["round_trip_sentences"] == len(corpus) and facts["english_sentences"] == len(TRAIN_EN)
    for tokenizer in (base, extended):
        sizes = [n for n, _ in tokenizer.batches]
        assert max(sizes) == 100 and sum(sizes) == len(corpus) + len(TRAIN_EN)
        # a batch is encoded as soon as it is read: never more than one chunk ahead of what was checked
        done = 0
        for n, seen in tokenizer.batches:
            done += n
            assert seen == done, (n, seen, done)


def test_one_learning_serves_every_size_and_both_sentencepiece_tokenizers(tokenizer_dirs, tmp_path, monkeypatch):
    import sentencepiece as spm

    trainings = []
    train = spm.SentencePieceTrainer.train
    monkeypatch.setattr(spm.SentencePieceTrainer, "train", lambda **kw: trainings.append(kw["vocab_size"]) or train(**kw))
    bases = {}
    for name in ("llama2", "mistral"):
        base_json = json.loads((Path(tokenizer_dirs[name]) / "tokenizer.json").read_text(encoding="utf-8"))
        bases[name] = (base_json, tokenizer_kind(base_json, "k"))
    chosen = learn_all(bases, TRAIN_TE, 1000, tmp_path, key="k", text_facts={})
    assert trainings == [1001] and chosen["llama2"] == chosen["mistral"]  # Llama-2 and Mistral learn alike
    model = json.loads((tmp_path / f"{chosen['llama2']}.json").read_text(encoding="utf-8"))
    # a smaller SentencePiece BPE model is the larger one's prefix (merges in the order learned, then
    # the characters): derived, it equals the model trained at that size
    for size in (200, 600):
        assert take(model, size, key="k") == learn_sentencepiece(TRAIN_TE, size, dummy_prefix=True, key="k")
    with pytest.raises(InputError, match=r"^k: 1200 pieces asked for, but only 1000 were learned"):
        take(model, 1200, key="k")


def test_byte_level_merges_of_a_smaller_size_are_a_prefix(default_tokenizer_dirs):
    base_json = json.loads((Path(default_tokenizer_dirs["smollm2"]) / "tokenizer.json").read_text(encoding="utf-8"))
    model = learn(base_json, "byte_level", TRAIN_TE, 400, key="k")
    assert take(model, 150, key="k") == [tuple(m) for m in learn(base_json, "byte_level", TRAIN_TE, 150, key="k")["merges"]]


def test_the_learning_text_leaves_out_and_counts_held_out_and_empty_lines(tmp_path):
    text = learning_text({"samanantar": ["ఒకటి", "రెండు", "", "మూడు"], "file": ["  నాలుగు ", "రెండు", "ఐదు"]},
                         held_out=["మూడు", "రెండు"], max_sentences=2)
    assert text.sentences == ["ఒకటి", "నాలుగు"]
    assert text.counts == {"samanantar": {"read": 4, "empty": 1, "held_out": 2, "used": 1},
                           "file": {"read": 3, "empty": 0, "held_out": 1, "used": 2}, "cut_to_max_sentences": 1}
    bad = tmp_path / "te.txt"
    bad.write_bytes("ఒకటి\nరెండు\n".encode() + b"\xff\xfe\n")
    with pytest.raises(InputError, match=r"^vocab.text_path: .*te.txt, line 3: not UTF-8"):
        file_sentences(bad, "vocab.text_path")


# --- the model side -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def extended_llama(tmp_path_factory, tokenizer_dirs):
    """A tiny random Llama with Llama-2's tokenizer, and Llama-2's tokenizer extended by 600 pieces."""
    from telugu_llm.train.weights import build_model

    root = tmp_path_factory.mktemp("vocab_model")
    build_model("tiny_llama", with_defaults({"source": "random", "architecture": "llama"}, "$defs/weights"),
                root / "model", tokenizer=load_tokenizer(tokenizer_dirs["llama2"]))
    build("llama2_te600", tokenizer_dirs["llama2"], 600, root, key="vocab.extend.tiny_llama.pieces")
    return {"model": root / "model", "tokenizer": root / "llama2_te600", "base_tokenizer": Path(tokenizer_dirs["llama2"])}


@pytest.mark.parametrize("tie", [False, True])
def test_new_rows_are_the_mean_of_the_rows_of_the_pieces_they_replace(extended_llama, tie):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(extended_llama["model"], tie_word_embeddings=tie)
    if tie:  # the checkpoint holds both matrices: tie them as a tied model (SmolLM2, Gemma) is
        model.tie_weights()
    before_in = model.get_input_embeddings().weight.detach().clone()
    before_out = model.get_output_embeddings().weight.detach().clone()
    extension = read_extension(extended_llama["tokenizer"])
    size = len(load_tokenizer(str(extended_llama["tokenizer"])))
    indices = extend_model(model, extension, size, model_name="tiny_llama", tokenizer="llama2_te600")
    first = extension["first_new_id"]
    new_ids = list(range(first, size))
    after_in, after_out = model.get_input_embeddings().weight, model.get_output_embeddings().weight
    assert after_in.shape[0] == size and torch.equal(after_in[:first], before_in)
    for new_id, parts in zip(new_ids, extension["base_splits"]):
        assert torch.allclose(after_in[new_id], before_in[parts].mean(dim=0))
        assert torch.allclose(after_out[new_id], (before_in if tie else before_out)[parts].mean(dim=0))
    assert torch.equal(after_out[:first], before_in if tie else before_out)
    # the piece "▁తెలుగు"'s row is the mean of the rows of the bytes and pieces Llama-2 spells it with
    piece_id = extension["pieces"].index("▁తెలుగు") if "▁తెలుగు" in extension["pieces"] else 0
    assert len(extension["base_splits"][piece_id]) > 1
    assert indices == ({"embed_tokens": new_ids} if tie else {"embed_tokens": new_ids, "lm_head": new_ids})


def test_a_tiny_model_trains_its_new_rows_and_no_base_row_and_evaluation_loads_them(extended_llama, tmp_path):
    from test_training import settings, write_prompts

    from telugu_llm.evaluation.run import load_for_eval
    from telugu_llm.train.run import train

    prompts = write_prompts(tmp_path / "prompts", "llama2_study")
    metrics = train(settings=settings("llama", compute_dtype="float32"), model_dir=extended_llama["model"],
                    tokenizer_dir=extended_llama["tokenizer"], prompts_dir=prompts, out_dir=tmp_path / "out",
                    checkpoint_root=tmp_path / "ckpt")
    extension = read_extension(extended_llama["tokenizer"])
    first, size = extension["first_new_id"], len(load_tokenizer(str(extended_llama["tokenizer"])))
    assert metrics["new_rows"] == size - first and metrics["eval_loss"] < metrics["eval_loss_before"]
    assert metrics["examples_per_second"] > 0
    adapter = tmp_path / "out" / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert config["trainable_token_indices"]["embed_tokens"] == list(range(first, size))
    quantization = Quantization(load_in_4bit=True, quant_type="nf4", compute_dtype="float32", double_quant=False)
    base = load_for_eval("tiny_llama", quantization, extended_llama["model"], None, "cpu", extended_llama["tokenizer"], size)
    tuned = load_for_eval("tiny_llama", quantization, extended_llama["model"], adapter, "cpu", extended_llama["tokenizer"],
                          size)
    rows = {"base": base.get_input_embeddings().weight}
    for name in ("embed_tokens", "lm_head"):
        wrapper = getattr(tuned.base_model.model.model, name) if name == "embed_tokens" else tuned.base_model.model.lm_head
        assert wrapper.token_adapter.merged  # written into the matrix once, not copied in on every forward
        merged = wrapper.token_adapter.get_merged_weights(["default"])
        reference = (base.get_input_embeddings() if name == "embed_tokens" else base.get_output_embeddings()).weight
        assert torch.equal(merged[:first], reference[:first]), f"{name}: a base row changed"
        changed = (merged[first:] - reference[first:]).abs().amax(dim=1) > 0
        assert changed.float().mean() > 0.05, f"{name}: the new rows did not train"
    with torch.inference_mode():
        ids = load_tokenizer(str(extended_llama["tokenizer"]))("తెలుగు", return_tensors="pt").input_ids
        assert tuned(input_ids=ids).logits.shape[-1] == size
    # the adapter belongs to its tokenizer: with the base tokenizer it is one error naming the key
    with pytest.raises(InputError, match=r"^models.tiny_llama.tokenizer: the adapter .* was trained with new rows "
                                         rf"{first}-{size - 1} but the tokenizer has no new rows"):
        check_adapter_rows(adapter, None, model="tiny_llama")


def test_weights_and_tokenizer_that_disagree_are_one_error_naming_the_key():
    with pytest.raises(InputError, match=r"^models.m.tokenizer: tokenizer t has 32600 ids but the weights of m have "
                                         r"32000 embedding rows: a tokenizer extended without resizing the model"):
        check_rows(32000, 32600, None, model="m", tokenizer="t")
    with pytest.raises(InputError, match=r"^models.m.tokenizer: the weights of m have 48000 embedding rows but "
                                         r"tokenizer t has 32000 base ids: weights resized for a larger vocabulary"):
        check_rows(48000, 32000, None, model="m", tokenizer="t")
    check_rows(32000, 32600, {"first_new_id": 32000}, model="m", tokenizer="t")  # extended here: resized on load
    check_rows(262144, 262145, {"first_new_id": 262145}, model="m", tokenizer="t")
    check_rows(32064, 32000, None, model="m", tokenizer="t")  # a checkpoint's padding rows


# --- the config ---------------------------------------------------------------------------------

DEFAULT = json.loads(json.dumps(__import__("yaml").safe_load((REPO / "config" / "config.yaml").read_text())))


def with_vocab(**vocab) -> dict:
    config = copy.deepcopy(DEFAULT)
    config["vocab"] = vocab
    config["train"]["models"] = ["gemma3_270m", "smollm2_135m"]
    return config


def test_an_extended_model_is_a_model_of_its_own_trained_beside_its_base():
    config = with_vocab(extend={"smollm2_135m": {"pieces": 400}})
    check_config(config)
    twin = config["models"]["smollm2_135m_te400"]
    assert twin["tokenizer"] == "smollm2_te400" and twin["extends"] == "smollm2_135m" and twin["extra_runs"] == []
    assert twin["weights"] == config["models"]["smollm2_135m"]["weights"]
    assert active_models(config) == ["gemma3_270m", "smollm2_135m", "smollm2_135m_te400"]
    check_config(config)  # checking a checked config again changes nothing
    assert sorted(config["models"]) == ["gemma3_270m", "smollm2_135m", "smollm2_135m_te400"]


@pytest.mark.parametrize("vocab, message", [
    ({"extend": {"qwen": {"pieces": 10}}}, "config key vocab.extend.qwen: unknown model 'qwen'"),
    ({"extend": {"smollm2_135m": {"pieces": 0}}}, "vocab.extend.smollm2_135m.pieces: 0 is less than the minimum of 1"),
    ({"extend": {"smollm2_135m": {"pieces": 10}}, "sources": ["file"]},
     "config key vocab.text_path: required when vocab.sources has file"),
    ({"extend": {"smollm2_135m": {"pieces": 10}}, "sources": ["file"], "text_path": "/nonexistent/te.txt"},
     "config key vocab.text_path: file /nonexistent/te.txt does not exist"),
    ({"extend": {"smollm2_135m": {"pieces": 10}}, "samanantar_subset": 7},
     "config key vocab.samanantar_subset: 7 is not one of samanantar.subsets [50, 100, 200]"),
    ({"extend": {"smollm2_135m": {"pieces": 10}}, "subsets": [100]},
     "config key vocab.subsets: [100] not among the runs of the models it extends"),
    ({"extend": {"smollm2_135m": {"pieces": 10}}, "recipes": ["study"]},
     "config key vocab.recipes: ['study'] not among the runs of the models it extends (train.recipes: ['corrected'])"),
    ({"extend": {"smollm2_135m": {"pieces": 10}}, "seeds": [7]},
     "config key vocab.seeds: [7] not among the runs of smollm2_135m (its one seed: 42; set train.seeds)"),
])
def test_bad_vocab_settings_fail_before_any_job_naming_the_key(vocab, message):
    with pytest.raises(InputError) as err:
        check_config(with_vocab(**vocab))
    assert message in str(err.value), str(err.value)


def test_an_extended_name_that_is_taken_or_a_unigram_tokenizer_is_one_error():
    config = with_vocab(extend={"smollm2_135m": {"pieces": 10}})
    config["tokenizers"]["smollm2_te10"] = config["tokenizers"]["smollm2"]
    with pytest.raises(InputError, match="vocab.extend.smollm2_135m: the extended tokenizer would be named 'smollm2_te10'"):
        check_config(config)
    config = with_vocab(extend={"gemma3_270m": {"pieces": 10}})
    config["tokenizers"]["gemma3"]["class"] = "T5Tokenizer"
    with pytest.raises(InputError, match="vocab.extend.gemma3_270m: the tokenizer gemma3 is a T5Tokenizer"):
        check_config(config)


def test_the_findings_carry_their_numbers_and_say_when_speeds_cover_different_items():
    import pandas as pd

    from telugu_llm.report.vocab import vocab_findings
    from telugu_llm.vocab.compare import COMPARISON_COLUMNS, TIMING, _paired, _timing

    import numpy as np

    rows = [_paired("tokens per training example", np.array([300.0, 280, 310, 290]), np.array([110.0, 100, 115, 105]),
                    0.95),
            _timing("training examples/s", 0.1, 0.22), {**_timing("evaluation items within max_prompt_tokens", 56, 68),
                                                        "method": "count"},
            {**_timing("generated characters/s", 20.0, 22.0), "method": TIMING}]
    comparison = pd.DataFrame([{"model": "m", "twin": "m_te9", "run": "samanantar/corrected/200/seed42", **r} for r in rows],
                              columns=COMPARISON_COLUMNS)
    assert rows[0]["diff"] == pytest.approx(-187.5) and rows[0]["ci_high"] < 0 and rows[0]["n"] == 4
    contrasts = pd.DataFrame([{"model": "m", "dimension": "vocabulary", "from": "samanantar/corrected/200/seed42",
                               "to": "m_te9", "set": "embedded", "task": "translation", "lang": "te", "metric": "chrf++",
                               "from_value": 10.0, "to_value": 12.0, "n": 6, "verdict": "better"}])
    findings = vocab_findings(comparison, contrasts, min_items=6, confidence=0.95)
    assert findings[0] == ("m_te9 against m (samanantar/corrected/200/seed42): tokens per training example 295.0 → "
                           f"107.5 (difference -187.5, 95 % interval [{rows[0]['ci_low']:.1f}, {rows[0]['ci_high']:.1f}], 4 "
                           "examples); training examples/s 0.1 → 0.22 (2.20×, one timing each); generated characters/s "
                           "20 → 22 (1.10×, one timing each); evaluation items whose prompt fits max_prompt_tokens 56 → "
                           "68 (the speeds above are over these different items).")
    assert findings[1].endswith("of 1 headline comparisons with at least 6 items, 1 better, 0 worse, 0 equivalent, "
                                "0 inconclusive (95 % paired jackknife-t intervals, Benjamini-Hochberg).")


def test_the_comparison_counts_the_examples_each_side_trained_on_and_dropped():
    # issue 21, point 6: a twin and its base train on the examples both keep; the comparison says how
    # many, and how many each tokenizer alone dropped as too long (the other side dropped them too)
    from telugu_llm.vocab.compare import trained_examples

    base = {"train_examples": {"kept": 150, "cut": 0, "dropped_too_long": 40, "dropped_by_partner": 0}}
    twin = {"train_examples": {"kept": 150, "cut": 0, "dropped_too_long": 6, "dropped_by_partner": 34}}
    rows = {r["measure"]: r for r in trained_examples(base, twin)}
    assert (rows["training examples trained on"]["base"], rows["training examples trained on"]["extended"]) == (150, 150)
    dropped = rows["training examples dropped as too long"]
    assert (dropped["base"], dropped["extended"], dropped["diff"]) == (40, 6, -34)
    assert dropped["method"].startswith("count under each side's own tokenizer")


def test_the_comparison_reports_the_share_of_answers_cut_at_the_budget(tmp_path):
    # issue 21, point 6: the share of answers cut at the budget, per run, beside the twin's
    import pyarrow as pa
    import pyarrow.parquet as pq

    from telugu_llm.vocab.compare import generation_speed

    pq.write_table(pa.table({"output": ["అవును", "కాదు"]}), tmp_path / "generations.parquet")
    (tmp_path / "metrics.json").write_text(json.dumps({
        "generation_seconds": 2.0, "generated_tokens_per_second": 3.0, "items": 2,
        "skipped_prompt_too_long": {"embedded/translation/te": 1},
        "cut_at_budget": {"answers": 2, "cut": 1, "share": 0.5, "groups": {"embedded/translation/te": 0.5}}}))
    speed = generation_speed(tmp_path / "generations.parquet", tmp_path / "metrics.json")
    assert speed == {"chars_per_second": 4.5, "tokens_per_second": 3.0, "items": 2, "skipped": 1, "cut_at_budget": 0.5}


def test_a_killed_run_with_new_rows_resumes_from_its_checkpoint(extended_llama, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from test_training import RESUME_SCRIPT, write_prompts

    prompts = write_prompts(tmp_path / "prompts", "llama2_study")
    script = RESUME_SCRIPT.format(src=str(REPO / "src"), tests=str(REPO / "tests"), model=str(extended_llama["model"]),
                                  tokenizer=str(extended_llama["tokenizer"]), prompts=str(prompts),
                                  out=str(tmp_path / "out"), ckpt=str(tmp_path / "ckpt"))
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    killed = subprocess.run([sys.executable, "-c", script, "4", "between"], env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    done = subprocess.run([sys.executable, "-c", script, "0", "none"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    extension = read_extension(extended_llama["tokenizer"])
    assert metrics["resumed_from"] == "checkpoint-4" and metrics["steps"] == 8
    assert metrics["new_rows"] == len(extension["base_splits"])
    config = json.loads((tmp_path / "out" / "adapter" / "adapter_config.json").read_text())
    assert len(config["trainable_token_indices"]["embed_tokens"]) == len(extension["base_splits"])


def test_the_study_learns_its_pieces_in_one_job(workflow):
    # paper.yaml: Llama-2 and Mistral extended by 16,000 pieces and a curve of six sizes, once twelve
    # SentencePiece trainings on the same 1M sentences (one per size and tokenizer); now one
    # vocab_learn job trains each distinct learner (one: both are SentencePiece BPE with a dummy
    # prefix) once at 32,000, and the extensions and the curve derive their sizes from it
    jobs = planned_jobs(workflow, "--configfile", "config/paper.yaml")
    assert (jobs["vocab_learn"], jobs["vocab_extend"], jobs["vocab_curve"]) == (1, 2, 1)
