import pyarrow.parquet as pq
import pytest

from telugu_llm.errors import InputError
from telugu_llm.prompts.build import build_prompts
from telugu_llm.prompts.formats import IGNORE_INDEX, check_example, render, tokenize_example
from telugu_llm.loading import load_tokenizer

TURNS = [("Human", "What is a large language model?"), ("Assistant", "A model trained on text."),
         ("Human", "మీటర్‌లో ఎన్ని అంగుళాలు?"), ("Assistant", "సుమారు 39.37 అంగుళాలు.")]


def test_study_formats_keep_every_turn():
    llama = render("llama2_study", TURNS)
    assert llama.prompt == "[INST] What is a large language model? [/INST] A model trained on text. [INST] మీటర్‌లో ఎన్ని అంగుళాలు? [/INST]"
    assert llama.completion == " సుమారు 39.37 అంగుళాలు."
    mistral = render("mistral_study", TURNS[:2])
    assert mistral.text == "###Human: What is a large language model? ###Assistant: A model trained on text."
    assert "<s>" not in llama.text and "</s>" not in llama.text


def test_unknown_template_and_bad_turns():
    with pytest.raises(InputError, match="unknown template 'alpaca'"):
        render("alpaca", TURNS)
    with pytest.raises(ValueError):
        render("llama2_study", TURNS[:1])


@pytest.mark.parametrize("name", ["llama2", "mistral"])
@pytest.mark.parametrize("template", ["llama2_study", "mistral_study"])
def test_one_bos_eos_last_prompt_masked(tokenizer_dirs, name, template):
    tokenizer = load_tokenizer(tokenizer_dirs[name])
    rendered = render(template, TURNS)
    ids, labels = tokenize_example(tokenizer, rendered.prompt, rendered.completion)
    check_example(tokenizer, ids, labels, single_bos=True)
    assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1
    assert ids[-1] == labels[-1] == tokenizer.eos_token_id
    n_prompt = len(tokenizer(rendered.prompt, add_special_tokens=False).input_ids) + 1
    assert labels[:n_prompt] == [IGNORE_INDEX] * n_prompt and labels[n_prompt:] == ids[n_prompt:]
    # a completion that already carries EOS text gets exactly one EOS
    ids2, _ = tokenize_example(tokenizer, rendered.prompt, rendered.completion + "</s> trailing")
    assert ids2.count(tokenizer.eos_token_id) == 1 and ids2[-1] == tokenizer.eos_token_id


def test_check_example_catches_a_double_bos_and_a_missing_eos(tokenizer_dirs):
    tokenizer = load_tokenizer(tokenizer_dirs["llama2"])
    ids, labels = tokenize_example(tokenizer, "[INST] hi [/INST]", " hello")
    with pytest.raises(AssertionError, match="BOS"):
        check_example(tokenizer, [1] + ids, [IGNORE_INDEX] + labels, single_bos=True)
    with pytest.raises(AssertionError, match="EOS"):
        check_example(tokenizer, ids[:-1], labels[:-1], single_bos=True)


def test_chat_template_is_required_when_asked(tokenizer_dirs):
    with pytest.raises(InputError, match="has no chat template"):
        render("chat_template", TURNS, load_tokenizer(tokenizer_dirs["llama2"]))


INSTRUCTIONS = [{"lang": "en", "text": "Translate from {source} into {target}:\n{sentence}"},
                {"lang": "te", "text": "{source} నుండి {target}లోకి అనువదించండి:\n{sentence}"}]


def make_shards(tmp_path):
    from conftest import samanantar_args, write_release

    from telugu_llm.data.samanantar import build_samanantar

    root = write_release(tmp_path / "c", "te", [f"Sentence {i}." for i in range(60)], [f"వాక్యం {i}." for i in range(60)])
    build_samanantar(**samanantar_args(source="local", lang="te", path=root, validation_fraction=0.1, test_fraction=0.1),
                     out_dir=tmp_path / "shards", quality_path=tmp_path / "q.json")
    return {s: tmp_path / "shards" / s for s in ("train", "validation", "test")}


def test_prompts_both_directions_both_phrasing_languages_and_deterministic(tmp_path):
    splits = make_shards(tmp_path)
    kwargs = dict(dataset="samanantar", template="llama2_study", split_dirs=splits, lang="te",
                  instructions=INSTRUCTIONS, directions=["from_english", "into_english"], seed=3)
    counts = build_prompts(out_dir=tmp_path / "p1", **kwargs)
    build_prompts(out_dir=tmp_path / "p2", **kwargs)
    for split in counts:
        assert (tmp_path / "p1" / f"{split}.parquet").read_bytes() == (tmp_path / "p2" / f"{split}.parquet").read_bytes()
    train = pq.read_table(tmp_path / "p1" / "train.parquet").to_pylist()
    assert counts["train"] == len(train) == 2 * pq.read_metadata(next(splits["train"].glob("*.parquet"))).num_rows
    assert {(r["source_lang"], r["target_lang"]) for r in train} == {("en", "te"), ("te", "en")}
    assert {r["instruction_lang"] for r in train} == {"en", "te"}
    te_into_en = next(r for r in train if r["instruction_lang"] == "te" and r["source_lang"] == "te")
    assert te_into_en["prompt"].startswith("[INST] తెలుగు నుండి ఆంగ్లంలోకి అనువదించండి:\nవాక్యం")
    assert te_into_en["completion"].startswith(" Sentence")
    assert len({r["id"] for r in train}) == len(train)


def test_prompts_bad_instruction_and_direction(tmp_path):
    splits = make_shards(tmp_path)
    with pytest.raises(InputError, match=r"prompts.instructions\[0\].text: must contain \{sentence\}"):
        build_prompts(dataset="samanantar", template="llama2_study", split_dirs=splits, out_dir=tmp_path / "p",
                      lang="te", instructions=[{"lang": "en", "text": "Translate"}], directions=["from_english"], seed=1)
    with pytest.raises(InputError, match=r"prompts.instructions\[0\].lang: no language names for 'fr'"):
        build_prompts(dataset="samanantar", template="llama2_study", split_dirs=splits, out_dir=tmp_path / "p",
                      lang="te", instructions=[{"lang": "fr", "text": "{sentence}"}], directions=["from_english"], seed=1)
    assert not (tmp_path / "p").exists()


CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def test_chat_template_splits_prompt_and_completion_and_keeps_one_eos(tokenizer_dirs):
    import copy

    tokenizer = copy.deepcopy(load_tokenizer(tokenizer_dirs["llama2"]))
    tokenizer.chat_template = CHATML
    rendered = render("chat_template", TURNS, tokenizer)
    assert rendered.prompt.endswith("<|im_start|>assistant\n") and rendered.prompt.count("<|im_start|>user") == 2
    assert rendered.completion == "సుమారు 39.37 అంగుళాలు."  # the template's own EOS text is left to the ids
    ids, labels = tokenize_example(tokenizer, rendered.prompt, rendered.completion)
    check_example(tokenizer, ids, labels, single_bos=False)
    assert ids.count(tokenizer.bos_token_id) == 1 and ids[-1] == tokenizer.eos_token_id
