"""Names that become paths or wildcards (issue 22, defects 1, 2 and 8): one pattern for models,
tokenizers, fertility corpora, vocabulary extensions, recipes and evaluation sets, checked with the
config before any job and naming the key; the atomic writers refuse a target outside its parent;
the wildcard constraints built from names match the names only. And the sizes a config can ask for,
bounded (defects 5 and 7)."""

import copy
import re
from pathlib import Path

import pytest
import yaml

from telugu_llm.atomic import atomic_directory, atomic_file
from telugu_llm.config import check_config
from telugu_llm.errors import InputError

REPO = Path(__file__).resolve().parents[1]
DEFAULT = yaml.safe_load((REPO / "config" / "config.yaml").read_text())

BAD_NAMES = ["..", ".", "../../../tmp/pwn_tok", "a/b", "a\\b", ".hidden", "my model é", "x" * 65, ""]


def renamed(kind: str, name: str) -> dict:
    """The default config with one name of `kind` replaced by `name` (the entry kept whole, so that
    only the name can be wrong)."""
    config = copy.deepcopy(DEFAULT)
    if kind == "models":
        config["models"][name] = copy.deepcopy(config["models"]["gemma3_270m"])
        config["train"]["models"] = list(dict.fromkeys([*(config["train"]["models"] or []), name]))
    elif kind == "tokenizers":
        config["tokenizers"][name] = copy.deepcopy(config["tokenizers"]["llama2"])
    elif kind == "recipes":
        config["recipes"][name] = copy.deepcopy(config["recipes"]["corrected"])
    elif kind == "vocab.extend":
        config["vocab"]["extend"][name] = {"pieces": 100}
    elif kind == "fertility.corpora":
        config["fertility"]["corpora"] = [{"name": name, "lang": "te", "source": "hub", "repo": "openlanguagedata/flores_plus",
                                           "src_config": "eng_Latn", "tgt_config": "tel_Telu"}]
    elif kind == "evaluation.hub":
        config["evaluation"]["hub"] = [{"name": name, "repo": "google/xquad", "split": "validation", "task": "qa",
                                        "lang": "en", "fields": {"context": "context", "question": "question",
                                                                 "answers": "answers"}}]
    return config


KINDS = ["models", "tokenizers", "recipes", "vocab.extend", "fertility.corpora", "evaluation.hub"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_that_is_not_a_safe_path_component_is_refused_naming_the_key(kind, name):
    """`..` made resources/<kind>/.. (Snakemake removed it on failure: all of resources/); a
    tokenizer named ../../../tmp/pwn_tok wrote under /tmp; a 300-character or spaced name failed
    late with a traceback. Each is now one error naming the key, from the config check."""
    with pytest.raises(InputError) as err:
        check_config(renamed(kind, name))
    message = str(err.value)
    assert message.startswith(f"config key {kind}"), message
    assert repr(name) in message and "not a usable name" in message, message


@pytest.mark.parametrize("name", ["gemma3_270m", "qwen2.5_0.5b", "A_1", "x" * 64])
def test_names_of_letters_digits_underscores_and_inner_dots_are_accepted(name):
    check_config(renamed("models", name))


def test_names_pattern_escapes_each_name():
    """A wildcard constraint built from names matches those names and nothing else: `a.b` is not
    a pattern that also matches `aXb`."""
    from telugu_llm.config import names_pattern  # rules/common.smk's before the fix: unescaped

    pattern = re.compile(names_pattern(["a.b", "c"]))
    assert pattern.fullmatch("a.b") and pattern.fullmatch("c")
    assert not pattern.fullmatch("aXb") and not pattern.fullmatch("a.bc")
    assert re.compile(names_pattern([])).fullmatch("anything") is None


@pytest.mark.parametrize("target", ["out/..", "out/.", "out/sub/../.."])
def test_the_atomic_writers_refuse_a_target_that_is_not_a_child_of_its_parent(tmp_path, target):
    kept = tmp_path / "out" / "kept.txt"
    kept.parent.mkdir()
    kept.write_text("mine")
    path = f"{tmp_path}/{target}"  # as a string: pathlib would drop the "." itself
    with pytest.raises(ValueError, match="not a child of its folder"):
        with atomic_directory(path):
            pass
    with pytest.raises(ValueError, match="not a child of its folder"):
        with atomic_file(path):
            pass
    assert kept.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_atomic_writers_refuse_a_symlinked_target_that_leads_elsewhere(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_text("mine")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="not a child of its folder"):
        with atomic_directory(tmp_path / "out" / "link"):
            pass
    assert (outside / "precious").read_text() == "mine"


@pytest.mark.parametrize("dotted, value", [
    ("vocab.extend.smollm2_135m.pieces", 10**12),
    ("vocab.curve", [100, 10**23]),
])
def test_absurd_vocabulary_sizes_are_refused_before_any_job_naming_the_key(dotted, value):
    """10**12 pieces ended in a Rust allocation abort after the data jobs ran, 10**23 in the curve
    in Snakemake's PeriodicWildcardError (issue 22, defect 7); the schema bounds both."""
    config = copy.deepcopy(DEFAULT)
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node[key]
    node[last] = value
    with pytest.raises(InputError) as err:
        check_config(config)
    assert str(err.value).startswith(f"config key {dotted}") and "greater than the maximum of 262144" in str(err.value), err.value


def test_an_unbounded_answer_limit_is_refused_before_any_job_naming_the_key():
    """max_new_tokens 100,000,000 (with a batch to match) generated far past the model's positions
    until it was killed (issue 22, defect 5)."""
    config = copy.deepcopy(DEFAULT)
    config["evaluation"]["max_new_tokens"] = {"qa": 100_000_000}
    config["evaluation"]["batch_tokens"] = 4_000_000
    with pytest.raises(InputError, match=r"^config key evaluation.max_new_tokens.qa: 100000000 is greater than the maximum of 32768"):
        check_config(config)


def test_a_prompt_and_answer_past_the_models_positions_is_refused_naming_the_key(tmp_path):
    from telugu_llm.phrasing import check_positions

    (tmp_path / "config.json").write_text('{"max_position_embeddings": 4096}')
    check_positions(2048, {"qa": 32, "open_qa": 2048}, tmp_path, "llama2_7b_chat")  # exactly the positions
    with pytest.raises(InputError, match=r"^config key evaluation.max_new_tokens.open_qa: evaluation.max_prompt_tokens "
                                         r"\(2048\) \+ 2049 = 4097 tokens, more than the 4096 positions of llama2_7b_chat"):
        check_positions(2048, {"qa": 32, "open_qa": 2049}, tmp_path, "llama2_7b_chat")
    (tmp_path / "config.json").write_text('{"text_config": {"max_position_embeddings": 512}}')  # a multimodal config
    with pytest.raises(InputError, match="more than the 512 positions"):
        check_positions(500, {"qa": 13}, tmp_path, "gemma")
