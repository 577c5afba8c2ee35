import numpy as np
import pytest

from telugu_llm.errors import InputError
from telugu_llm.tokens.fertility import (
    analyse_tokenizer,
    joined_pass,
    read_parallel,
    sentence_pass,
    word_stats,
)
from telugu_llm.loading import load_tokenizer
from telugu_llm.prompts.costs import template_costs
from telugu_llm.tokens.tokenizer import vocabulary_facts


def test_word_stats_by_hand():
    # "ab cd" tokenized as a|b|▁cd (the third token starts on the space), "x" as x
    texts = ["ab cd", "x"]
    words, continued, chars = word_stats(texts, np.array([3, 1]), np.array([0, 1, 2, 0]))
    assert words.tolist() == [2, 1] and continued.tolist() == [1, 0] and chars.tolist() == [5, 1]
    # a lone space token belongs to the word after it; a trailing one to the last word
    words, continued, _ = word_stats(["ab  cd "], np.array([4]), np.array([0, 2, 4, 6]))
    assert words.tolist() == [2] and continued.tolist() == [1]  # ab: 1 token; cd: space, cd, trailing space
    # no words at all
    words, continued, _ = word_stats(["", "   "], np.array([0, 1]), np.array([0]))
    assert words.tolist() == [0, 0] and continued.tolist() == [0, 0]


def test_an_all_byte_fallback_sentence(tokenizer_dirs):
    # Llama-2 has no piece for these letters: "▁" and then three UTF-8 bytes per character
    backend = load_tokenizer(tokenizer_dirs["llama2"]).backend_tokenizer
    facts = vocabulary_facts(tokenizer_dirs["llama2"])
    text = "నేను"  # 4 code points, 12 UTF-8 bytes, one word
    stats = sentence_pass(backend, [text], batch_size=10)
    assert stats.tokens.tolist() == [13] and stats.words.tolist() == [1] and stats.continued.tolist() == [1]
    joined = joined_pass(backend, [text], np.asarray(facts["byte_ids"]), facts["unk_id"])
    assert (joined.tokens, joined.byte_fallback, joined.chars, joined.bytes, joined.unk) == (13, 12, 4, 12, 0)


def test_english_words_and_the_joined_protocol(tokenizer_dirs):
    backend = load_tokenizer(tokenizer_dirs["llama2"]).backend_tokenizer
    facts = vocabulary_facts(tokenizer_dirs["llama2"])
    lines = ["Prime Minister Narendra Modi", "met Queen Maxima"]
    stats = sentence_pass(backend, lines, batch_size=1)
    # ▁Prime ▁Minister ▁Nar endra ▁Mod i | ▁met ▁Queen ▁Max ima
    assert stats.tokens.tolist() == [6, 4] and stats.words.tolist() == [4, 3] and stats.continued.tolist() == [2, 1]
    joined = joined_pass(backend, lines, np.asarray(facts["byte_ids"]), facts["unk_id"])
    assert joined.tokens == 10 and joined.chars == len("Prime Minister Narendra Modi met Queen Maxima")


def test_rows_premium_and_script_vocabulary(tokenizer_dirs):
    corpus = {"name": "tiny", "lang": "te", "src": ["I am learning Telugu"], "tgt": ["నేను తెలుగు నేర్చుకుంటున్నాను"]}
    rows, sentences, example = analyse_tokenizer(name="mistral", resource_dir=tokenizer_dirs["mistral"], corpora=[corpus],
                                                 batch_size=100, example=("I am", "నేను"))
    en, te = rows
    assert en["premium"] == 1.0 and en["lang"] == "en" and te["lang"] == "te"
    assert te["tokens"] == 42 and te["premium"] == pytest.approx(42 / en["tokens"], rel=1e-5)
    assert te["fertility"] == pytest.approx(42 / 3, rel=1e-5) and te["continued_word_share"] == 1.0
    assert te["script_vocab_pieces"] == 11 and te["unk_share"] == 0.0
    assert len(sentences) == 2 and set(sentences["lang"]) == {"en", "te"}
    assert [t["display"] for t in example["tgt"]][:3] == [" ", "న", "<0xE0>"]


def write(path, lines):
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def test_extra_corpus_bad_inputs(tmp_path):
    src = write(tmp_path / "a.en", ["one", "two"])
    with pytest.raises(InputError, match=r"fertility.corpora c: line counts differ: .*a.en has 2 lines but .*b.te has 1"):
        read_parallel("c", src, write(tmp_path / "b.te", ["ఒకటి"]))
    with pytest.raises(InputError, match=r"fertility.corpora e: .*e.en and .*e.te are empty"):
        read_parallel("e", write(tmp_path / "e.en", []), write(tmp_path / "e.te", []))
    with pytest.raises(InputError, match=r"fertility.corpora m: .*missing.te does not exist"):
        read_parallel("m", src, tmp_path / "missing.te")
    (tmp_path / "bad.te").write_bytes(b"ok\n\xff\n")
    with pytest.raises(InputError, match=r"bad.te: line 2: invalid UTF-8"):
        read_parallel("u", src, tmp_path / "bad.te")
    # lines are analysed as given: no normalisation, whitespace kept
    assert read_parallel("k", write(tmp_path / "k.en", ["  a  "]), write(tmp_path / "k.te", ["బ "])) == (["  a  "], ["బ "])


def test_template_costs_check_every_example(tmp_path, tokenizer_dirs):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "s").mkdir()
    pq.write_table(pa.table({"prompt": ["[INST] hi [/INST]", "[INST] " + "నేను " * 50 + "[/INST]"],
                             "completion": [" hello", " ok"]}), tmp_path / "s" / "train.parquet")
    costs = template_costs(tokenizer_dir=tokenizer_dirs["llama2"], prompt_dirs={"samanantar": tmp_path / "s"},
                           template="llama2_study", max_lengths=[64, 4096], tokenizer_name="llama2")
    assert costs["examples"].tolist() == [2, 2]
    assert costs["truncated_share"].tolist() == [0.5, 0.0]
    assert costs["tokens_max"].iloc[0] > 600


FLORES = {"eng_Latn": {"dev": [{"id": 1, "text": "It rained."}, {"id": 2, "text": "Thank you."}, {"id": 3, "text": "Go.\nNow."}],
                       "devtest": [{"id": 10, "text": "Good morning."}]},
          "tel_Telu": {"dev": [{"id": 2, "text": "ధన్యవాదాలు."}, {"id": 1, "text": "వర్షం కురిసింది."}, {"id": 4, "text": "అదనం."}],
                       "devtest": [{"id": 10, "text": "శుభోదయం."}]}}


def flores_spec(**changes) -> dict:
    from telugu_llm.config import with_defaults

    spec = {"name": "flores200", "lang": "te", "source": "hub", "repo": "openlanguagedata/flores_plus",
            "src_config": "eng_Latn", "tgt_config": "tel_Telu", **changes}
    return with_defaults({"corpora": [spec]}, "fertility")["corpora"][0]


def test_a_hub_corpus_stored_one_language_per_configuration_is_joined_on_its_ids(tmp_path, hub, monkeypatch):
    """FLORES+ as the hub serves it (gated, a configuration per language), through the real datasets
    code from the local hub, with a token as a user who accepted its licence has."""
    import huggingface_hub
    from hub_replicas import flores_plus

    from telugu_llm.tokens.corpora import corpus_files, fetch_hub_corpus

    flores_plus(hub.root, FLORES)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    source = fetch_hub_corpus(0, flores_spec(), tmp_path / "flores200")
    src, tgt = read_parallel("flores200", *corpus_files(flores_spec(), tmp_path / "flores200"))
    # rows paired by id, not by position (tel_Telu lists id 2 first); a line break inside a sentence is a space
    assert list(zip(src, tgt)) == [("It rained.", "వర్షం కురిసింది."), ("Thank you.", "ధన్యవాదాలు."),
                                   ("Good morning.", "శుభోదయం.")]
    assert source["pairs"] == 3 and source["pairs_per_split"] == {"dev": 2, "devtest": 1}
    assert source["unmatched_ids"] == {"source_only": 1, "target_only": 1}  # id 3 (English only) and 4 (Telugu only)
    with pytest.raises(InputError, match=r"fertility.corpora\[0\].field: the source rows have no column 'sentence' "
                                         r"\(columns: id, iso_639_3, iso_15924, text\)"):
        fetch_hub_corpus(0, flores_spec(field="sentence"), tmp_path / "other")
    with pytest.raises(InputError, match=r"fertility.corpora\[0\].key: the source rows have no column 'uid'"):
        fetch_hub_corpus(0, flores_spec(key="uid"), tmp_path / "other")
    repeated = {**FLORES, "tel_Telu": {**FLORES["tel_Telu"], "dev": [*FLORES["tel_Telu"]["dev"], {"id": 1, "text": "మళ్లీ."}]}}
    flores_plus(hub.root, repeated)
    huggingface_hub.HfFileSystem.clear_instance_cache()
    with pytest.raises(InputError, match=r"fertility.corpora\[0\].key: 'id' is not unique on the target side \(e.g. \[1\]\)"):
        fetch_hub_corpus(0, flores_spec(), tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_a_gated_hub_corpus_is_one_error_naming_the_key(tmp_path, hub):
    from hub_replicas import flores_plus

    from telugu_llm.tokens.corpora import fetch_hub_corpus

    flores_plus(hub.root, FLORES)
    with pytest.raises(InputError, match=r"fertility.corpora\[0\].repo: openlanguagedata/flores_plus is gated. Accept its "
                                         r"licence at http://127.0.0.1:\d+/datasets/openlanguagedata/flores_plus"):
        fetch_hub_corpus(0, flores_spec(), tmp_path / "flores200")
    assert not (tmp_path / "flores200").exists()
