import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import guanaco_args

from telugu_llm.errors import InputError
from telugu_llm.data.guanaco import build_guanaco, identify, parse_conversation, render

SPANISH = "### Human: ¿Cuántas personas hay en Europa?### Assistant: Según countrymeters.info, unos 751 millones."
MULTI = ("### Human: What is a large language model?### Assistant: A model trained on a lot of text."
         "### Human: Give one example.### Assistant: GPT-3.")
TELUGU = "### Human: మీటర్‌లో ఎన్ని అంగుళాలు ఉంటాయి?### Assistant: ఒక మీటర్‌లో సుమారు 39.37 అంగుళాలు ఉంటాయి."


def test_parse_multi_turn_and_render_round_trip():
    turns, reason = parse_conversation(MULTI)
    assert reason is None
    assert [(t.role, t.content) for t in turns] == [
        ("Human", "What is a large language model?"), ("Assistant", "A model trained on a lot of text."),
        ("Human", "Give one example."), ("Assistant", "GPT-3."),
    ]
    assert render(turns) == MULTI


@pytest.mark.parametrize("text, reason", [
    (None, "missing_text"),
    ("   ", "missing_text"),
    ("Just some text.", "no_turns"),
    ("Preamble ### Human: hi### Assistant: hello", "text_before_first_turn"),
    ("### Human: is anyone there?", "no_assistant_turn"),
    ("### Assistant: hello### Human: hi", "first_turn_not_human"),
    ("### Human: hi### Assistant:   ", "empty_turn"),
    ("### Human: a### Human: b### Assistant: c", "turns_not_alternating"),
    ("### Human: a### Assistant: b### Human: c", "ends_with_human_turn"),
])
def test_malformed_conversations_are_named(text, reason):
    assert parse_conversation(text) == (None, reason)


def test_language_by_script_and_identifier():
    assert identify("మీటర్‌లో ఎన్ని అంగుళాలు ఉంటాయి? ఒక మీటర్‌లో సుమారు 39.37 అంగుళాలు.")[::2] == ("te", "Telugu")
    assert identify("¿Cuántas personas hay en Europa? Según las cifras, unos 751 millones.")[::2] == ("es", "Latin")
    assert identify("Water boils at one hundred degrees at sea level.")[::2] == ("en", "Latin")


def write_jsonl(path, records, extra_lines=()):
    lines = [json.dumps(r, ensure_ascii=False) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_build_counts_malformed_duplicates_and_blank_lines(tmp_path):
    records = [{"text": SPANISH}, {"text": MULTI}, {"text": TELUGU}, {"text": TELUGU},
               {"text": "### Human: no answer"}, {"no_text": 1}, {"text": SPANISH.replace("?", "?  ")}]
    path = write_jsonl(tmp_path / "g.jsonl", records, extra_lines=[""])
    out = tmp_path / "out"
    quality = build_guanaco(**guanaco_args(source="local", path=path, validation_fraction=0, test_fraction=0),
                            out_dir=out / "shards", quality_path=out / "q.json")
    assert quality["dropped"] == {"invalid_utf8": 0, "malformed_conversation": 2, "duplicate": 2}
    assert quality["malformed"]["no_assistant_turn"] == 1 and quality["malformed"]["missing_text"] == 1
    assert quality["blank_lines_skipped"] == 1 and quality["rows_kept"] == 3
    assert quality["languages"] == {"en": 1, "es": 1, "te": 1}
    table = pq.read_table(out / "shards" / "train" / "part-00000.parquet")
    by_lang = {row["lang"]: row for row in table.to_pylist()}
    assert by_lang["te"]["script"] == "Telugu" and by_lang["en"]["n_turns"] == 4
    assert by_lang["es"]["turns"][0] == {"role": "Human", "content": "¿Cuántas personas hay en Europa?"}
    assert quality["dropped_examples"]["no_assistant_turn"][0]["where"].endswith("g.jsonl:5")


def test_parquet_input_and_missing_text_column(tmp_path):
    pq.write_table(pa.table({"text": [MULTI, TELUGU]}), tmp_path / "g.parquet")
    out = tmp_path / "out"
    quality = build_guanaco(**guanaco_args(source="local", path=tmp_path / "g.parquet"), out_dir=out / "s",
                            quality_path=out / "q.json")
    assert quality["rows_kept"] == 2
    pq.write_table(pa.table({"content": [MULTI]}), tmp_path / "bad.parquet")
    with pytest.raises(InputError, match=r"bad.parquet: no 'text' column \(columns: content\)"):
        build_guanaco(**guanaco_args(source="local", path=tmp_path / "bad.parquet"), out_dir=out / "s2",
                      quality_path=out / "q2.json")
    assert not (out / "s2").exists()


def test_invalid_json_and_utf8_name_the_line(tmp_path):
    path = write_jsonl(tmp_path / "g.jsonl", [{"text": MULTI}], extra_lines=["{not json"])
    with pytest.raises(InputError, match=r"g.jsonl: line 2: not valid JSON"):
        build_guanaco(**guanaco_args(source="local", path=path), out_dir=tmp_path / "o", quality_path=tmp_path / "q.json")
    assert not (tmp_path / "o").exists() and not (tmp_path / "q.json").exists()
    raw = tmp_path / "u.jsonl"
    raw.write_bytes(json.dumps({"text": MULTI}).encode() + b"\n" + b'{"text": "\xff"}\n')
    with pytest.raises(InputError, match=r"u.jsonl: line 2: invalid UTF-8"):
        build_guanaco(**guanaco_args(source="local", path=raw), out_dir=tmp_path / "o", quality_path=tmp_path / "q.json")
    quality = build_guanaco(**guanaco_args(source="local", path=raw, on_invalid_utf8="skip"), out_dir=tmp_path / "o",
                            quality_path=tmp_path / "q.json")
    assert quality["dropped"]["invalid_utf8"] == 1 and quality["rows_read"] == 2


def test_hub_source_reads_each_split(tmp_path, hub):
    """timdettmers/openassistant-guanaco as the hub serves it (two JSON-lines files, splits named
    from the file names), through the real datasets code from the local hub."""
    from hub_replicas import guanaco

    spec = guanaco(hub.root, train=[MULTI], test=[TELUGU])
    quality = build_guanaco(**guanaco_args(source="hub", hub=spec), out_dir=tmp_path / "o", quality_path=tmp_path / "q.json")
    assert quality["rows_kept"] == 2 and quality["rows_read"] == 2


def test_a_source_whose_every_record_is_dropped_is_one_error(tmp_path):
    path = tmp_path / "g.jsonl"
    path.write_text("".join(json.dumps({"text": n}) + "\n" for n in (1, 2, 3)))  # a `text` column of integers
    with pytest.raises(InputError, match=r"guanaco: all 3 records of .*g.jsonl were dropped "
                                         r"\(malformed_conversation/missing_text 3\)"):
        build_guanaco(**guanaco_args(source="local", path=path), out_dir=tmp_path / "o", quality_path=tmp_path / "q.json")
    assert not (tmp_path / "o").exists() and not (tmp_path / "q.json").exists()


def test_a_corrupt_parquet_file_is_named(tmp_path):
    bad = tmp_path / "g.parquet"
    bad.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"g.parquet: not a readable Parquet file"):
        build_guanaco(**guanaco_args(source="local", path=bad), out_dir=tmp_path / "o", quality_path=tmp_path / "q.json")
    assert not (tmp_path / "o").exists()


def test_a_marker_quoted_inside_an_answer_splits_it_and_is_counted():
    """The text format cannot tell a quoted marker from a turn: it splits the answer, which breaks the
    alternation here, so the record is dropped and counted (config/README.md documents the rule)."""
    text = ("### Human: How is a Guanaco record written?### Assistant: Each turn starts with a marker, "
            "like ### Human: for the user. ### Human: Thanks!### Assistant: You are welcome.")
    turns, reason = parse_conversation(text)
    assert turns is None and reason == "turns_not_alternating"
