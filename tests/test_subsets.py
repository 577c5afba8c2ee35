import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import samanantar_args, write_release

from telugu_llm.errors import InputError
from telugu_llm.data.samanantar import build_samanantar
from telugu_llm.data.subsets import META_NAME, build_subset


@pytest.fixture
def train_dir(tmp_path):
    root = write_release(tmp_path / "c", "te", [f"Sentence {i}." for i in range(500)], [f"వాక్యం {i}." for i in range(500)])
    build_samanantar(**samanantar_args(source="local", lang="te", path=root, rows_per_shard=64, validation_fraction=0.1,
                                       test_fraction=0.1), out_dir=tmp_path / "shards", quality_path=tmp_path / "q.json")
    return tmp_path / "shards" / "train"


def ids(directory):
    return set(pa.concat_tables(pq.read_table(p) for p in sorted(directory.glob("part-*.parquet"))).column("id").to_pylist())


def test_subsets_are_nested_exact_and_seeded(tmp_path, train_dir):
    sizes = (10, 50, 200)
    got = {}
    for size in sizes:
        meta = build_subset(train_dir=train_dir, out_dir=tmp_path / f"s{size}", size=size, seed=7, rows_per_shard=16)
        got[size] = ids(tmp_path / f"s{size}")
        assert len(got[size]) == size == meta["size"]
        assert json.loads((tmp_path / f"s{size}" / META_NAME).read_text())["seed"] == 7
    assert got[10] < got[50] < got[200] < ids(train_dir)
    build_subset(train_dir=train_dir, out_dir=tmp_path / "other", size=50, seed=8, rows_per_shard=16)
    assert ids(tmp_path / "other") != got[50]
    build_subset(train_dir=train_dir, out_dir=tmp_path / "again", size=50, seed=7, rows_per_shard=1000)
    assert ids(tmp_path / "again") == got[50]


def test_subset_larger_than_the_training_split_fails_clearly(tmp_path, train_dir):
    with pytest.raises(InputError, match=r"samanantar.subsets: a subset of 100000 pairs .* has only \d+"):
        build_subset(train_dir=train_dir, out_dir=tmp_path / "big", size=100_000, seed=1, rows_per_shard=10)
    assert not (tmp_path / "big").exists()
