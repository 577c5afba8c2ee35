import json
import shutil
from pathlib import Path

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


def test_subsets_from_the_rows_file_equal_those_read_from_the_shards(tmp_path, train_dir):
    # without the rows file and its index, a subset job reads the training shards themselves
    from telugu_llm.data.samanantar import ROWS_INDEX_NAME, ROWS_NAME

    plain = tmp_path / "plain"
    shutil.copytree(train_dir, plain / "train")
    assert not (plain / ROWS_NAME).exists() and (train_dir.parent / ROWS_NAME).exists()
    assert (train_dir.parent / ROWS_INDEX_NAME).exists()
    for size in (1, 37, 394):  # 394: the whole training split
        a = build_subset(train_dir=train_dir, out_dir=tmp_path / f"a{size}", size=size, seed=11, rows_per_shard=50)
        b = build_subset(train_dir=plain / "train", out_dir=tmp_path / f"b{size}", size=size, seed=11, rows_per_shard=50)
        assert a == b
        files = sorted(p.name for p in (tmp_path / f"a{size}").iterdir())
        assert files == sorted(p.name for p in (tmp_path / f"b{size}").iterdir())
        for name in files:
            assert (tmp_path / f"a{size}" / name).read_bytes() == (tmp_path / f"b{size}" / name).read_bytes()
    with pytest.raises(InputError, match=r"has only \d+"):
        build_subset(train_dir=plain / "train", out_dir=tmp_path / "big", size=100_000, seed=1, rows_per_shard=10)


def test_subsets_of_a_corpus_with_shared_sides_come_from_its_training_split(tmp_path):
    src = [f"Sentence {i // 2}." if i % 2 else f"SENTENCE {i // 2}!" for i in range(400)]  # pairs share English
    tgt = [f"వాక్యం {i}." for i in range(400)]
    root = write_release(tmp_path / "c", "te", src, tgt)
    quality = build_samanantar(**samanantar_args(source="local", lang="te", path=root, rows_per_shard=64,
                                                 validation_fraction=0.2, test_fraction=0.2),
                               out_dir=tmp_path / "shards", quality_path=tmp_path / "q.json")
    assert quality["overlap"]["groups"] == 200
    train = tmp_path / "shards" / "train"
    got = {}
    for size in (20, 100):
        build_subset(train_dir=train, out_dir=tmp_path / f"s{size}", size=size, seed=3, rows_per_shard=30)
        got[size] = ids(tmp_path / f"s{size}")
    assert len(got[20]) == 20 and got[20] < got[100] <= ids(train)


PANDAS_FREE = """
import sys
from pathlib import Path
sys.path[:0] = [{src!r}, {tests!r}]
from telugu_llm.data.shards import keep_pandas_out
keep_pandas_out()
from conftest import guanaco_args, samanantar_args
from telugu_llm.data.guanaco import build_guanaco
from telugu_llm.data.samanantar import build_samanantar
from telugu_llm.data.subsets import build_subset
out = Path({out!r})
build_samanantar(**samanantar_args(source="local", lang="te", path=Path({root!r}), rows_per_shard=64,
                 validation_fraction=0.1, test_fraction=0.1), out_dir=out / "shards", quality_path=out / "q.json")
build_subset(train_dir=out / "shards" / "train", out_dir=out / "subset", size=100, seed=7, rows_per_shard=64)
build_guanaco(**guanaco_args(source="local", path=Path({guanaco!r})), out_dir=out / "guanaco", quality_path=out / "g.json")
assert "pandas" not in sys.modules, "pandas was imported"
"""


def test_the_data_jobs_without_pandas_write_the_same_bytes(tmp_path, train_dir):
    """The data scripts keep pandas out of their process (shards.keep_pandas_out, a third of a second a
    job): the stage then runs, and writes shards byte for byte equal to a process with pandas."""
    import subprocess
    import sys
    from pathlib import Path

    from conftest import REPO, guanaco_args

    from telugu_llm.data.guanaco import build_guanaco

    guanaco = REPO / "data" / "guanaco" / "guanaco.jsonl"
    build_subset(train_dir=train_dir, out_dir=tmp_path / "subset", size=100, seed=7, rows_per_shard=64)
    build_guanaco(**guanaco_args(source="local", path=guanaco), out_dir=tmp_path / "guanaco", quality_path=tmp_path / "g.json")
    out = tmp_path / "without"
    script = PANDAS_FREE.format(src=str(REPO / "src"), tests=str(Path(__file__).parent), out=str(out),
                                root=str(tmp_path / "c"), guanaco=str(guanaco))
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    for name in ("shards", "subset", "guanaco"):
        mine = sorted(p.relative_to(tmp_path / name) for p in (tmp_path / name).rglob("*.parquet"))
        theirs = sorted(p.relative_to(out / name) for p in (out / name).rglob("*.parquet"))
        assert mine == theirs and mine
        for rel in mine:
            assert (tmp_path / name / rel).read_bytes() == (out / name / rel).read_bytes(), rel


PEAK_OF_A_SUBSET = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])  # this checkout's code
from telugu_llm.data.subsets import build_subset

def status():
    return {k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in open("/proc/self/status"))
            if k in ("VmRSS", "VmHWM")}

shards, out = Path(sys.argv[1]), Path(sys.argv[2])
open("/proc/self/clear_refs", "w").write("5")  # the peak from here on
before = status()["VmRSS"]
build_subset(train_dir=shards / "train", out_dir=out, size=int(sys.argv[3]), seed=3, rows_per_shard=100)
print(json.dumps({"growth": status()["VmHWM"] - before}))
"""


def _growth_of_a_subset_job(tmp_path, pairs: int) -> tuple[int, int]:
    """(peak growth of a subset job's resident memory, size of the rows file) for a corpus of `pairs`
    long pairs, read in batches of 100 rows."""
    import subprocess
    import sys

    import telugu_llm
    from telugu_llm.data.samanantar import ROWS_NAME

    root = write_release(tmp_path / f"c{pairs}", "te", [f"Sentence {i} " + "word " * 1000 for i in range(pairs)],
                         [f"వాక్యం {i} " + "పదం " * 1000 for i in range(pairs)])
    shards = tmp_path / f"shards{pairs}"
    build_samanantar(**samanantar_args(source="local", lang="te", path=root, rows_per_shard=100, validation_fraction=0,
                                       test_fraction=0), out_dir=shards, quality_path=tmp_path / f"q{pairs}.json")
    out = tmp_path / f"s{pairs}"
    proc = subprocess.run([sys.executable, "-c", PEAK_OF_A_SUBSET, str(shards), str(out), "100",
                           str(Path(telugu_llm.__file__).parents[1])],
                          capture_output=True, text=True, check=True)
    assert len(ids(out)) == 100
    return json.loads(proc.stdout)["growth"], (shards / ROWS_NAME).stat().st_size


def test_a_subset_job_holds_one_batch_not_the_rows_file(tmp_path):
    """At the study's size the rows file is about 2.2 GB (4.9M pairs); a subset job read it memory-
    mapped, and the kernel's read-ahead brought nearly every page of it into the job's resident
    memory (1.9 GB for a 10k subset), which a cluster counts against the job. Read one batch at a
    time, the job's memory does not grow with the corpus: four times the corpus, about the same peak."""
    small, small_file = _growth_of_a_subset_job(tmp_path, 1000)
    large, large_file = _growth_of_a_subset_job(tmp_path, 4000)
    assert large_file - small_file > 40e6
    assert large - small < (large_file - small_file) / 4, (
        f"a subset job grew by {small / 1e6:.0f} MB for a rows file of {small_file / 1e6:.0f} MB, by "
        f"{large / 1e6:.0f} MB for one of {large_file / 1e6:.0f} MB")
