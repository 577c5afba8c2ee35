import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import samanantar_args, write_release

from telugu_llm.errors import InputError
from telugu_llm.data.samanantar import SCHEMA, build_samanantar

GOOD = [
    ("The monsoon reached Kerala on Monday.", "సోమవారం రుతుపవనాలు కేరళను తాకాయి."),
    ("Drink boiled water.", "కాచిన నీళ్లు తాగండి."),
    ("Schools reopen in June.", "జూన్‌లో పాఠశాలలు తిరిగి తెరుచుకుంటాయి."),
    ("The farmer sold his paddy at the market.", "రైతు తన వడ్లను మార్కెట్‌లో అమ్మాడు."),
    ("Hyderabad is a big city.", "హైదరాబాద్ పెద్ద నగరం."),
]


def build(tmp_path, src, tgt, lang="te", **kw):
    root = write_release(tmp_path / "corpus", lang, src, tgt)
    out = tmp_path / "out"
    kw.setdefault("validation_fraction", 0.2)
    kw.setdefault("test_fraction", 0.2)
    quality = build_samanantar(**samanantar_args(source="local", lang=lang, path=root, **kw), out_dir=out / "shards",
                               quality_path=out / "quality.json")
    return quality, out


def read_all(shards: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted(shards.glob("*/part-*.parquet")))


def test_filters_count_every_dropped_row_under_its_reason(tmp_path):
    src = [s for s, _ in GOOD] + [
        "",                                    # empty_side
        "Hello there.",                        # whitespace-only target
        "This one has no Telugu at all.",      # no_target_script
        "Yes.",                                # length_ratio (target far longer)
        GOOD[4][0],                            # duplicate after NFC normalisation
        "  Drink   boiled water. ",            # duplicate after whitespace normalisation
    ]
    tgt = [t for _, t in GOOD] + [
        "ఖాళీ",
        " \t ",
        "No Telugu here either.",
        "అవును, నేను ఈ విషయం గురించి చాలా సేపు ఆలోచించి చివరికి ఒప్పుకున్నాను.",
        GOOD[4][1].replace("\u0c48", "\u0c46\u0c56"),
        "కాచిన   నీళ్లు తాగండి.",
    ]
    quality, out = build(tmp_path, src, tgt)
    assert quality["dropped"] == {"invalid_utf8": 0, "empty_side": 2, "no_target_script": 1, "length_ratio": 1,
                                  "duplicate": 2}
    assert quality["rows_read"] == 11 and quality["rows_kept"] == 5
    assert json.loads((out / "quality.json").read_text()) == quality
    table = read_all(out / "shards")
    assert sorted(table.column("src").to_pylist()) == sorted(s for s, _ in GOOD)
    assert table.schema.equals(SCHEMA)
    assert quality["dropped_examples"]["length_ratio"][0]["line"] == 9


def test_splits_are_disjoint_complete_and_recorded(tmp_path):
    src = [f"Sentence number {i} about the weather." for i in range(300)]
    tgt = [f"వాతావరణం గురించి వాక్యం సంఖ్య {i}." for i in range(300)]
    quality, out = build(tmp_path, src, tgt)
    ids = {}
    for split in ("train", "validation", "test"):
        table = pa.concat_tables(pq.read_table(p) for p in sorted((out / "shards" / split).glob("*.parquet")))
        assert set(table.column("split").to_pylist()) <= {split}
        ids[split] = set(table.column("id").to_pylist())
        assert len(ids[split]) == table.num_rows == quality["splits"][split]
    assert not (ids["train"] & ids["validation"] or ids["train"] & ids["test"] or ids["validation"] & ids["test"])
    assert sum(len(v) for v in ids.values()) == 300
    assert 0 < quality["splits"]["test"] < 120


def test_shards_are_byte_identical_across_runs_and_bounded_in_rows(tmp_path):
    src = [f"Line {i} of the corpus." for i in range(250)]
    tgt = [f"కార్పస్‌లో {i}వ వాక్యం." for i in range(250)]
    q1, out1 = build(tmp_path / "a", src, tgt, rows_per_shard=37)
    q2, out2 = build(tmp_path / "b", src, tgt, rows_per_shard=37)
    files1 = sorted(p.relative_to(out1) for p in out1.rglob("*.parquet"))
    assert files1 == sorted(p.relative_to(out2) for p in out2.rglob("*.parquet"))
    assert len(files1) > 3
    for rel in files1:
        assert (out1 / rel).read_bytes() == (out2 / rel).read_bytes()
        assert pq.ParquetFile(out1 / rel).metadata.num_rows <= 37
        assert pq.ParquetFile(out1 / rel).metadata.row_group(0).column(0).compression == "ZSTD"
    # the rows do not depend on the shard size
    _, out3 = build(tmp_path / "c", src, tgt, rows_per_shard=1000)
    assert read_all(out3 / "shards").sort_by("id").equals(read_all(out1 / "shards").sort_by("id"))


def test_line_count_mismatch_names_both_files_and_leaves_nothing(tmp_path):
    with pytest.raises(InputError) as err:
        build(tmp_path, ["a.", "b.", "c."], ["అ.", "ఆ."], rows_per_shard=2)
    msg = str(err.value)
    assert "train.en has 3 lines" in msg and "train.te has 2" in msg
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_invalid_utf8_names_file_and_line_or_is_counted(tmp_path):
    src = b"One.\nTwo.\nThree.\n"
    tgt = "ఒకటి.\n".encode() + b"\xff\xfe broken\n" + "మూడు.\n".encode()
    with pytest.raises(InputError, match=r"train\.te: line 2: invalid UTF-8 .*on_invalid_utf8: skip"):
        build(tmp_path / "a", src, tgt)
    assert not (tmp_path / "a" / "out" / "shards").exists()
    quality, _ = build(tmp_path / "b", src, tgt, on_invalid_utf8="skip")
    assert quality["dropped"]["invalid_utf8"] == 1 and quality["rows_kept"] == 2


def test_another_language_uses_its_script(tmp_path):
    quality, out = build(tmp_path, ["I am reading.", "Mixed up."], ["मैं पढ़ रहा हूँ।", "నేను చదువుతున్నాను."], lang="hi")
    assert quality["pair"] == "en-hi" and quality["settings"]["target_script"] == "Devanagari"
    assert quality["dropped"]["no_target_script"] == 1
    assert read_all(out / "shards").column("tgt_lang").to_pylist() == ["hi"]


def test_unknown_language_and_missing_files(tmp_path):
    with pytest.raises(InputError, match="unknown language 'xx'"):
        build_samanantar(**{**samanantar_args(source="local", path=tmp_path), "lang": "xx"}, out_dir=tmp_path / "o",
                         quality_path=tmp_path / "q")
    with pytest.raises(InputError, match=r"samanantar.path: .*en-te/train.en does not exist"):
        build_samanantar(**samanantar_args(source="local", lang="te", path=tmp_path), out_dir=tmp_path / "o",
                         quality_path=tmp_path / "q")
    assert not (tmp_path / "o").exists()


def test_hub_source_streams_through_datasets(tmp_path, monkeypatch):
    import datasets

    rows = {"idx": [10, 11, 12], "src": ["Good morning.", None, "Thank you."],
            "tgt": ["శుభోదయం.", "ఏదో.", "ధన్యవాదాలు."], "data_source": ["pmi", "anuvaad", "wiki"]}
    calls = []

    def fake_load_dataset(repo, name, split, streaming, revision):
        calls.append((repo, name, split, streaming, revision))
        return datasets.Dataset.from_dict(rows).to_iterable_dataset()

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    out = tmp_path / "out"
    quality = build_samanantar(**samanantar_args(source="hub", lang="te", hub={"repo": "ai4bharat/samanantar",
                                                                               "revision": "abc123"},
                                                 rows_per_shard=2, validation_fraction=0, test_fraction=0),
                               out_dir=out / "shards", quality_path=out / "q.json")
    assert calls == [("ai4bharat/samanantar", "te", "train", True, "abc123")]
    assert quality["dropped"]["empty_side"] == 1 and quality["rows_kept"] == 2
    table = read_all(out / "shards").sort_by("idx")
    assert table.column("idx").to_pylist() == [10, 12]
    assert table.column("data_source").to_pylist() == ["pmi", "wiki"]


def test_unreachable_hub_is_one_clear_error(tmp_path, monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'ai4bharat/samanantar' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(InputError, match=r"samanantar.source is hub, but the dataset ai4bharat/samanantar@main could not be read: ConnectionError"):
        build_samanantar(**samanantar_args(source="hub", lang="te"), out_dir=tmp_path / "s",
                         quality_path=tmp_path / "q.json")
    assert not (tmp_path / "s").exists() and not (tmp_path / "q.json").exists()
