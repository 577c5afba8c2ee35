import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import samanantar_args, write_release
from test_text import reference as reference_normal_form

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
    assert quality["dropped"] == {"invalid_utf8": 0, "empty_side": 2, "same_sides": 0, "no_source_script": 0,
                                  "no_target_script": 1, "length_ratio": 1, "duplicate": 2}
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


def test_hub_source_streams_through_datasets(tmp_path, hub):
    """ai4bharat/samanantar as the hub serves it today (Parquet, a configuration per language, no
    data_source column), read through the real datasets code from the local hub."""
    from hub_replicas import samanantar

    rows = {"idx": [10, 11, 12], "src": ["Good morning.", None, "Thank you."], "tgt": ["శుభోదయం.", "ఏదో.", "ధన్యవాదాలు."]}
    spec = samanantar(hub.root, rows)
    out = tmp_path / "out"
    quality = build_samanantar(**samanantar_args(source="hub", lang="te", hub=spec, rows_per_shard=2,
                                                 validation_fraction=0, test_fraction=0),
                               out_dir=out / "shards", quality_path=out / "q.json")
    assert quality["dropped"]["empty_side"] == 1 and quality["rows_kept"] == 2
    table = read_all(out / "shards").sort_by("idx")
    assert table.column("idx").to_pylist() == [10, 12]
    assert table.column("data_source").to_pylist() == [None, None]  # optional: null where the source has none
    assert any("/datasets/ai4bharat/samanantar/resolve/" in path for _, path, _ in hub.log)


def test_hub_source_keeps_data_source_where_given(tmp_path, hub):
    from hub_replicas import samanantar

    spec = samanantar(hub.root, {"idx": [1], "src": ["Thank you."], "tgt": ["ధన్యవాదాలు."], "data_source": ["pmi"]})
    out = tmp_path / "out"
    build_samanantar(**samanantar_args(source="hub", lang="te", hub=spec, validation_fraction=0, test_fraction=0),
                     out_dir=out / "shards", quality_path=out / "q.json")
    assert read_all(out / "shards").column("data_source").to_pylist() == ["pmi"]


def test_unreachable_hub_is_one_clear_error(tmp_path, hub, monkeypatch):
    import datasets
    import huggingface_hub

    closed = "http://127.0.0.1:9"  # nothing listens on the discard port
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", closed)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", closed)
    with pytest.raises(InputError, match=r"samanantar.hub: the hub \(http://127.0.0.1:9\) could not be reached to read "
                                         r"ai4bharat/samanantar@main \(config 'te'\)"):
        build_samanantar(**samanantar_args(source="hub", lang="te"), out_dir=tmp_path / "s",
                         quality_path=tmp_path / "q.json")
    assert not (tmp_path / "s").exists() and not (tmp_path / "q.json").exists()


# --- leak-free splits: pairs that share a side are in one split ------------------------------------

import random  # noqa: E402
import tracemalloc  # noqa: E402
import unicodedata  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402

from telugu_llm.data import grouping, unicode_tables  # noqa: E402
from telugu_llm.data.hashing import SPLITS, assign_splits, ids_to_hashes, text_hashes  # noqa: E402


def reference_key(text: str) -> str:
    """The grouping key, written plainly: case-folded, letters, marks and numbers only; a side
    without any keys as itself."""
    key = "".join(c for c in text.casefold() if unicodedata.category(c)[0] in "LMN")
    return key or text


def shared_side_corpus(groups: int = 60, seed: int = 0) -> tuple[list[str], list[str]]:
    """Pairs in groups linked through either side, with spelling variants of a shared side, and
    pairs that share nothing. Each group g: A = (E_g, T_g), B = (E_g variant, T'_g) shares A's
    English side, C = (E'_g, T'_g variant) shares B's Telugu side (a chain A~B~C across both
    sides), and every third group a D = (E''_g, T_g) that shares A's Telugu side exactly."""
    rng = random.Random(seed)
    english = ["the", "rain", "farmers", "market", "village", "school", "river", "price", "road", "city"]
    telugu = ["వర్షం", "రైతులు", "మార్కెట్", "గ్రామం", "బడి", "నది", "ధర", "రోడ్డు", "నగరం", "పని"]

    def en(i: int, tag: str) -> str:
        return " ".join(rng.choice(english) for _ in range(5)) + f" {tag} {i}."

    def te(i: int, tag: str) -> str:
        return " ".join(rng.choice(telugu) for _ in range(4)) + f" {tag}{i}."

    src, tgt = [], []
    for g in range(groups):
        e, t, t2 = en(g, "a"), te(g, "అ"), te(g, "బ")
        variants_en = [e.upper(), e.rstrip(".") + " !", "  " + e.replace(" ", "  "), e.replace(" ", ", ", 1)]
        variants_te = [t2.replace(" ", "\u200c ", 1), t2.rstrip(".") + "?", t2.replace(" ", "\u200d", 1), "\"" + t2 + "\""]
        src += [e, rng.choice(variants_en), en(g, "c")]
        tgt += [t, t2, rng.choice(variants_te)]
        if g % 3 == 0:
            src.append(en(g, "d"))
            tgt.append(t)
    for i in range(120):  # pairs that share nothing
        src.append(en(i, "z"))
        tgt.append(te(i, "జ"))
    order = list(range(len(src)))
    rng.shuffle(order)
    return [src[i] for i in order], [tgt[i] for i in order]


def splits_by_id(out: Path) -> dict[str, str]:
    table = read_all(out / "shards")
    return dict(zip(table.column("id").to_pylist(), table.column("split").to_pylist()))


def reference_overlap(table: pa.Table, validation: float, test: float) -> tuple[dict, dict[str, str]]:
    """Groups, their counts and each pair's split, by a plain union-find over the reference keys."""
    ids = table.column("id").to_pylist()
    parent = list(range(len(ids)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for side in ("src", "tgt"):
        first = {}
        for i, text in enumerate(table.column(side).to_pylist()):
            k = reference_key(text)
            if k in first:
                parent[find(i)] = find(first[k])
            else:
                first[k] = i
    members = defaultdict(list)
    for i in range(len(ids)):
        members[find(i)].append(i)
    h = ids_to_hashes(table.column("id"))
    own = assign_splits(h, validation, test)
    split, moved, groups = {}, 0, [m for m in members.values() if len(m) > 1]
    for m in members.values():
        wanted = own[min(m, key=lambda i: int(h[i]))]
        moved += sum(int(own[i] != wanted) for i in m)
        split.update({ids[i]: SPLITS[wanted] for i in m})
    return {"groups": len(groups), "pairs_in_groups": sum(map(len, groups)), "moved": moved,
            "largest_group": max(map(len, members.values()), default=0)}, split


def test_pairs_that_share_a_side_are_in_one_split(tmp_path):
    src, tgt = shared_side_corpus()
    quality, out = build(tmp_path, src, tgt, validation_fraction=0.3, test_fraction=0.3, rows_per_shard=50)
    table = read_all(out / "shards")
    assert table.num_rows == quality["rows_kept"] == len(src)
    for side in ("src", "tgt"):
        where = defaultdict(set)
        for text, split in zip(table.column(side).to_pylist(), table.column("split").to_pylist()):
            where[reference_key(text)].add(split)
        assert all(len(s) == 1 for s in where.values()), side
    # the chains A~B~C (and D) are whole groups, and some of them had to move
    groups = quality["overlap"]["groups"]
    assert groups == 60 and quality["overlap"]["pairs_in_groups"] == 3 * 60 + 20
    assert quality["overlap"]["moved"] > 10
    assert quality["settings"]["group_key"] == grouping.KEY_NAME
    assert quality["settings"]["split_rule"] == grouping.RULE_NAME
    assert json.loads((out / "quality.json").read_text())["overlap"] == quality["overlap"]


def test_overlap_counts_and_splits_equal_a_plain_union_find(tmp_path):
    src, tgt = shared_side_corpus(groups=40, seed=3)
    # more variants; English sides without a Latin letter are dropped before grouping (no_source_script)
    src += ["Rain, rain!", "RAIN RAIN", "Hello.", "... ... ...", "... ... ...", "!!! !!! !!!"]
    tgt += ["వాన వాన", "వాన, వాన!", "నమస్కారం.", "చుక్కలు మాత్రమే.", "చుక్కలే చుక్కలు!", "ఆశ్చర్యం ఆశ్చర్యం!"]
    quality, out = build(tmp_path, src, tgt, validation_fraction=0.25, test_fraction=0.25)
    table = read_all(out / "shards")
    assert table.num_rows == len(src) - 3 and quality["dropped"]["no_source_script"] == 3
    counts, split = reference_overlap(table, 0.25, 0.25)
    assert quality["overlap"] == counts and counts["groups"] == 40 + 1
    assert splits_by_id(out) == split


def test_a_corpus_without_shared_sides_keeps_the_pair_hash_splits(tmp_path):
    src = [f"Sentence number {i} about the weather." for i in range(300)]
    tgt = [f"వాతావరణం గురించి వాక్యం సంఖ్య {i}." for i in range(300)]
    quality, out = build(tmp_path, src, tgt)
    assert quality["overlap"] == {"groups": 0, "pairs_in_groups": 0, "moved": 0, "largest_group": 1}
    table = read_all(out / "shards")
    own = assign_splits(ids_to_hashes(table.column("id")), 0.2, 0.2)
    assert table.column("split").to_pylist() == [SPLITS[s] for s in own]
    # the pair hash is still that of the normalised pair, as before
    assert table.column("id").to_pylist() == [
        f"{x:016x}" for x in text_hashes(pa.array([f"{s}\x1f{t}" for s, t in zip(table.column("src").to_pylist(),
                                                                               table.column("tgt").to_pylist())]))]


def test_the_split_of_a_pair_does_not_depend_on_the_input_order(tmp_path):
    src, tgt = shared_side_corpus(groups=30, seed=5)
    q1, out1 = build(tmp_path / "a", src, tgt, validation_fraction=0.3, test_fraction=0.3, rows_per_shard=40)
    order = list(range(len(src)))
    random.Random(9).shuffle(order)
    q2, out2 = build(tmp_path / "b", [src[i] for i in order], [tgt[i] for i in order], validation_fraction=0.3,
                     test_fraction=0.3, rows_per_shard=17)
    assert splits_by_id(out1) == splits_by_id(out2)
    assert q1["overlap"] == q2["overlap"] and q1["splits"] == q2["splits"]


def test_duplicates_are_dropped_before_grouping_and_shards_stay_deterministic(tmp_path):
    src, tgt = shared_side_corpus(groups=20, seed=7)
    src, tgt = src + src[:10], tgt + tgt[:10]  # exact duplicates are dropped, not grouped
    q1, out1 = build(tmp_path / "a", src, tgt, rows_per_shard=23)
    q2, out2 = build(tmp_path / "b", src, tgt, rows_per_shard=23)
    assert q1["dropped"]["duplicate"] == 10 and len(q1["dropped_examples"]["duplicate"]) == 3
    assert q1["overlap"]["pairs_in_groups"] == 3 * 20 + 7
    files = sorted(p.relative_to(out1) for p in (out1 / "shards").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out2) for p in (out2 / "shards").rglob("*") if p.is_file())
    for rel in files:  # the shards, the rows file and its index
        assert (out1 / rel).read_bytes() == (out2 / rel).read_bytes(), rel


def test_the_key_of_a_side(tmp_path):
    texts = ["Hello, World!", "hello world", "HELLO-WORLD.", "Straße", "STRASSE", "...", "…", "!!",
             "హైదరాబాద్\u200cలో", "హైదరాబాద్లో", "హైదరాబాదులో", "Café au lait", "CAFÉ AU LAIT", "٣ ३ 3", "Ⅳ"]
    keys = grouping.exact_keys(pa.array(texts)).to_pylist()
    assert keys == [reference_key(t) for t in texts]
    assert keys[0] == keys[1] == keys[2] == "helloworld" and keys[3] == keys[4] == "strasse"
    assert keys[5:8] == ["...", "…", "!!"]  # nothing left: the side itself
    assert keys[8] == keys[9] != keys[10]  # a joiner is no difference, a vowel sign is


def test_both_paths_of_the_key_agree_on_random_text():
    rng = random.Random(0)
    pieces = ["a", "B", "z", "Q", "0", "7", " ", ".", ",", "-", "'", "\"", "!", "\x00", "é", "É", "ß", "ẞ", "ς", "Σ",
              "İ", "ﬁ", "\u0c15", "\u0c4d", "\u0c3e", "\u0c66", "\u0c77", "\u200c", "\u200d", "\u2019", "\u2014",
              "\u0964", "\u0915", "\u093c", "\u00a0", "\u0301", "\U0001f600", "\u212a", "Ⅻ", "½"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    arr = pa.array(texts)
    exact = text_hashes(grouping.exact_keys(arr))
    assert np.array_equal(grouping.key_hashes(arr), exact)  # each row on the path it needs
    fast = ~pc.match_substring_regex(arr, pattern=grouping.exact_path_pattern()).to_numpy(zero_copy_only=False)
    assert 300 < fast.sum() < 2900
    forced = grouping.key_hashes(arr, np.zeros(len(arr), dtype=bool))  # everything on the byte-level path
    assert np.array_equal(forced[fast], exact[fast])
    assert [reference_key(t) for t in texts] == grouping.exact_keys(arr).to_pylist()


def test_components_join_chains_across_both_sides():
    # rows: 0~1 (English), 1~2 (target), 2~3 (English), 4 alone, 5~6 (target), 7~3 (target)
    src = np.array([1, 1, 2, 2, 3, 4, 5, 6], dtype=np.uint64)
    tgt = np.array([10, 11, 11, 12, 13, 14, 14, 12], dtype=np.uint64)
    members, component = grouping.shared_side_components(src, tgt)
    assert members.tolist() == [0, 1, 2, 3, 5, 6, 7]
    assert component.tolist() == [0, 0, 0, 0, 4, 4, 0]
    h = np.array([50, 40, 30, 60, 70, 20, 90, 80], dtype=np.uint64)
    split, overlap = grouping.group_splits(h, src, tgt, 0.3, 0.3)
    own = assign_splits(h, 0.3, 0.3)
    assert split[4] == own[4]
    assert (split[[0, 1, 2, 3, 7]] == own[2]).all() and (split[[5, 6]] == own[5]).all()
    assert overlap == {"groups": 2, "pairs_in_groups": 7, "largest_group": 5,
                       "moved": int((own[[0, 1, 2, 3, 7]] != own[2]).sum() + (own[[5, 6]] != own[5]).sum())}


def test_a_long_chain_is_one_group():
    n = 2001  # row i shares its English side with i+1 when i is even, its target side when i is odd
    src = np.arange(n, dtype=np.uint64) // 2
    tgt = (np.arange(n, dtype=np.uint64) + 1) // 2 + 10**6
    members, component = grouping.shared_side_components(src[::-1].copy(), tgt[::-1].copy())
    assert len(members) == n and (component == 0).all()


def test_grouping_memory_is_a_few_numpy_arrays_per_pair():
    rng = np.random.default_rng(0)
    n = 200_000
    src = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    tgt = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    src[rng.integers(0, n, 5000)] = src[rng.integers(0, n, 5000)]  # a few % share a side
    tgt[rng.integers(0, n, 5000)] = tgt[rng.integers(0, n, 5000)]
    h = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64)
    tracemalloc.start()
    split, overlap = grouping.group_splits(h, src, tgt, 0.05, 0.1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert overlap["pairs_in_groups"] > 10_000
    assert peak < 40 * n  # bytes: numpy arrays over the pairs, no Python object per pair


def test_the_rows_file_and_its_index_sit_beside_the_shards(tmp_path):
    src, tgt = shared_side_corpus(groups=10, seed=2)
    quality, out = build(tmp_path, src + ["", src[0]], tgt + ["ఖాళీ", tgt[0]], rows_per_shard=16)
    from telugu_llm.data.samanantar import DUPLICATE, ROWS_INDEX_NAME, ROWS_NAME, iter_rows, read_rows_index

    assert (out / "shards" / ROWS_NAME).is_file() and (out / "shards" / ROWS_INDEX_NAME).is_file()
    pair_hash, split, lang = read_rows_index(out / "shards")
    rows = pa.concat_tables(pa.Table.from_batches([b]) for _, b in iter_rows(out / "shards"))
    assert lang == "te" and rows.num_rows == len(split) == len(src) + 1  # the empty side is not there
    assert (split == DUPLICATE).sum() == 1
    table = read_all(out / "shards")
    assert sorted(f"{x:016x}" for x in pair_hash[split != DUPLICATE]) == sorted(table.column("id").to_pylist())
    # the dataset readers of Arrow skip them
    import pyarrow.dataset as ds

    assert ds.dataset(out / "shards" / "train", format="parquet").to_table().num_rows == quality["splits"]["train"]


def test_the_embedded_sample_with_the_default_settings(tmp_path):
    root = Path(__file__).resolve().parents[1] / "data" / "samanantar"
    args = samanantar_args(source="embedded", path=root)
    quality = build_samanantar(**args, out_dir=tmp_path / "shards", quality_path=tmp_path / "quality.json")
    table = read_all(tmp_path / "shards")
    counts, split = reference_overlap(table, args["validation_fraction"], args["test_fraction"])
    assert quality["rows_read"] == 330 and quality["overlap"] == counts
    assert dict(zip(table.column("id").to_pylist(), table.column("split").to_pylist())) == split


def test_normalize_and_flag_normalises_and_flags_in_one_scan():
    from telugu_llm.data.text import normalize_and_flag

    rng = random.Random(1)
    pieces = ["a", "B", " ", "  ", "\t", "\x00", "\x7f", ".", "é", "\u200c", "\u0c15", "\u0c4d", "\u0301", "x",
              "\u00a0", "\r\n", "\u2019"]
    pattern = grouping.exact_path_pattern()
    for trial in range(200):
        pool = pieces[:8] if trial % 2 else pieces  # mostly ASCII rows: their bytes are checked with numpy
        texts = ["".join(rng.choice(pool) for _ in range(rng.randint(0, 10))) for _ in range(rng.randint(1, 30))]
        arr = pa.array([t + "é" if rng.random() < 0.1 else t for t in texts])
        arr = arr.slice(rng.randint(0, len(arr) - 1)) if trial % 3 == 0 else arr
        got, flagged = normalize_and_flag(arr, pattern)
        assert got.to_pylist() == [reference_normal_form(t) for t in arr.to_pylist()]
        assert flagged.tolist() == pc.match_substring_regex(got, pattern=pattern).to_pylist()
    with pytest.raises(ValueError, match="printable ASCII"):
        normalize_and_flag(pa.array(["a"]), "[a-z]")


# --- what a careless user meets (issue 12) --------------------------------------------------------
def test_telugu_on_both_sides_is_one_error_and_leaves_nothing(tmp_path):
    tgt = [te for _, te in GOOD] * 4
    with pytest.raises(InputError, match=r"train.en: 20 of 20 English sides have no Latin letter or equal their Telugu "
                                         r"side: the English side is not English. Are the files swapped, or is "
                                         r"samanantar.lang \(te\) wrong\? \(dropped: same_sides 20\)"):
        build(tmp_path, tgt, tgt)
    assert not list((tmp_path / "out").rglob("*"))


def test_swapped_files_are_named_as_such(tmp_path):
    with pytest.raises(InputError, match=r"the English side is not English. Are the files swapped.*no_source_script 5"):
        build(tmp_path, [te for _, te in GOOD], [en for en, _ in GOOD])


def test_a_wrong_language_drops_every_pair_and_says_so(tmp_path):
    with pytest.raises(InputError, match=r"samanantar: all 5 pairs of .*train.en, .*train.hi were dropped "
                                         r"\(no_target_script 5\); is samanantar.lang \(hi, Hindi\) right"):
        build(tmp_path, [en for en, _ in GOOD], [te for _, te in GOOD], lang="hi")
    assert not list((tmp_path / "out").rglob("*"))


def test_pairs_with_equal_sides_are_dropped_and_counted(tmp_path):
    quality, _ = build(tmp_path, [en for en, _ in GOOD] + ["OK"], [te for _, te in GOOD] + ["OK"])
    assert quality["dropped"]["same_sides"] == 1 and quality["rows_kept"] == 5


def test_lone_cr_line_endings_are_named(tmp_path):
    src = "\r".join(en for en, _ in GOOD).encode() + b"\r"
    tgt = "\r".join(te for _, te in GOOD).encode() + b"\r"
    with pytest.raises(InputError, match=r"train.en: lines end in a lone CR \(old Mac line endings: \d CR and 0 LF"):
        build(tmp_path, src, tgt)
    assert not list((tmp_path / "out").rglob("*"))


def test_an_unreadable_file_is_named(tmp_path, monkeypatch):
    import builtins

    root = write_release(tmp_path / "corpus", "te", [en for en, _ in GOOD], [te for _, te in GOOD])
    real_open = builtins.open

    def no_permission(path, *args, **kwargs):
        if str(path).endswith("train.te"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_permission)
    with pytest.raises(InputError, match=r"train.te: cannot be read \(Permission denied\)"):
        build_samanantar(**samanantar_args(source="local", lang="te", path=root), out_dir=tmp_path / "o",
                         quality_path=tmp_path / "q.json")
    assert not (tmp_path / "o").exists()


def test_the_precomputed_character_classes_equal_a_fresh_computation():
    from telugu_llm.data import text

    assert grouping.exact_path_pattern(fresh=True) == grouping.exact_path_pattern()
    assert text.nfc_suspect_pattern(fresh=True) == text.nfc_suspect_pattern()
    assert text.nfc_suspect_pattern() is unicode_tables.NFC_SUSPECT_PATTERN  # the precomputed one serves here
