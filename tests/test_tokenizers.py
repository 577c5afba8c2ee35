import json

import pytest
import yaml
from conftest import REPO

from telugu_llm.errors import InputError
from telugu_llm.config import with_defaults
from telugu_llm.loading import load_tokenizer
from telugu_llm.resources import SOURCE_JSON, sha256_file
from telugu_llm.tokens.tokenizer import build_tokenizer, vocabulary_facts

SENTENCE = "Prime Minister Narendra Modi met Queen Maxima"
TELUGU = "నేను తెలుగు నేర్చుకుంటున్నాను"


def test_reference_ids_of_the_real_tokenizers(tokenizer_dirs):
    # shared/assets.md: ids with BOS
    llama, mistral = load_tokenizer(tokenizer_dirs["llama2"]), load_tokenizer(tokenizer_dirs["mistral"])
    assert llama(SENTENCE).input_ids == [1, 15512, 7668, 16080, 25404, 3382, 29875, 1539, 10470, 5918, 2946]
    assert mistral(SENTENCE).input_ids == [1, 13321, 8241, 418, 492, 292, 520, 3813, 28710, 1424, 10224, 5824, 4250]
    assert len(llama(TELUGU).input_ids) == 81 and len(mistral(TELUGU).input_ids) == 43


def test_vocabulary_facts(tokenizer_dirs):
    llama = vocabulary_facts(tokenizer_dirs["llama2"])
    assert llama["size"] == 32000 and len(llama["byte_ids"]) == 256 and llama["unk_id"] == 0
    assert llama["pieces"][llama["byte_ids"][0]] == "<0x00>" and not llama["byte_level"]
    telugu = [t for t in llama["texts"] if any("\u0c00" <= ch <= "\u0c7f" for ch in t)]
    assert len(telugu) == 1  # Llama-2 has one Telugu piece (shared/assets.md), Mistral eleven
    assert sum(any("\u0c00" <= ch <= "\u0c7f" for ch in t) for t in vocabulary_facts(tokenizer_dirs["mistral"])["texts"]) == 11


def test_source_json_records_the_checksum(tokenizer_dirs):
    source = json.loads((tokenizer_dirs and __import__("pathlib").Path(tokenizer_dirs["llama2"]) / SOURCE_JSON).read_text())
    assert source["sha256"] == "9e556afd44213b6bd1be2b850ebbbd98f5481437a8021afaf58ee7fb1818d347"
    assert source["vocab_size"] == 32000 and source["bos_token"] == "<s>"


def test_checksum_mismatch_is_one_error_and_leaves_nothing(tmp_path):
    spec = dict(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["tokenizers"]["llama2"])
    spec["sha256"] = "0" * 64
    with pytest.raises(InputError, match=r"tokenizers.llama2: sha256 of maxtext/assets/tokenizers/tokenizer.llama2 in maxtext==0.2.5 is 9e556afd.*, expected 0{64}"):
        build_tokenizer("llama2", with_defaults(spec, "$defs/tokenizer"), tmp_path / "llama2")
    assert not (tmp_path / "llama2").exists() and list(tmp_path.iterdir()) == []


def test_local_source_and_missing_member(tmp_path, tokenizer_dirs):
    # a local copy of a file is verified the same way
    original = tmp_path / "tok.model"
    spec = dict(yaml.safe_load((REPO / "config" / "config.yaml").read_text())["tokenizers"]["mistral"])
    from telugu_llm.resources import fetch_package_file

    fetch_package_file(spec["package"], spec["file"], original, "test")
    assert sha256_file(original) == spec["sha256"]
    local = {"source": "local", "path": str(original), "sha256": spec["sha256"], "format": "sentencepiece"}
    build_tokenizer("mine", with_defaults(local, "$defs/tokenizer"), tmp_path / "mine")
    assert load_tokenizer(str(tmp_path / "mine"))(SENTENCE).input_ids[:2] == [1, 13321]
    with pytest.raises(InputError, match=r"tokenizers.bad: .*has no file nope/tokenizer.model"):
        build_tokenizer("bad", with_defaults({**spec, "file": "nope/tokenizer.model"}, "$defs/tokenizer"), tmp_path / "bad")
