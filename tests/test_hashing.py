import numpy as np
import pyarrow as pa
import pytest

from telugu_llm.data.hashing import (
    HashIndex,
    assign_splits,
    first_occurrences,
    hex_ids,
    ids_to_hashes,
    slice_hashes,
    splitmix64,
    subset_keys,
    text_hashes,
)


def test_text_hashes_are_pinned():
    # XXH3-64 of the UTF-8 bytes: these values decide splits and subsets and must never change
    got = text_hashes(pa.array(["", "hello", "నేను తెలుగు నేర్చుకుంటున్నాను"]))
    assert [f"{x:016x}" for x in got] == ["2d06800538d394c2", "9555e8555c62dcfd", "5d8419e3a7867447"]
    # read from the Arrow buffers, equal to hashing the encoded string
    import xxhash

    assert int(got[2]) == xxhash.xxh3_64_intdigest("నేను తెలుగు నేర్చుకుంటున్నాను".encode())


def test_text_hashes_of_a_slice_and_of_large_strings():
    arr = pa.array(["x", "a", "b", "c"])
    assert list(text_hashes(arr.slice(1))) == list(text_hashes(pa.array(["a", "b", "c"])))
    assert list(text_hashes(pa.array(["a", "b"], pa.large_string()))) == list(text_hashes(pa.array(["a", "b"])))
    with pytest.raises(ValueError):
        text_hashes(pa.array(["a", None]))


def test_splitmix64_reference_value():
    # first output of SplitMix64 seeded with 0 (Steele, Lea & Flood 2014)
    assert int(splitmix64(np.array([0], dtype=np.uint64))[0]) == 0xE220A8397B1DCDAF


def test_splits_are_a_function_of_the_hash_with_the_asked_shares():
    h = splitmix64(np.arange(200_000, dtype=np.uint64))
    split = assign_splits(h, validation=0.05, test=0.1)
    share = np.bincount(split, minlength=3) / len(h)
    assert share[1] == pytest.approx(0.05, abs=0.003) and share[2] == pytest.approx(0.1, abs=0.003)
    assert np.array_equal(split, assign_splits(h.copy(), 0.05, 0.1))
    # widening the test share only moves pairs into test
    wider = assign_splits(h, validation=0.05, test=0.2)
    assert np.all(wider[split == 2] == 2)


def test_hex_ids_round_trip():
    h = np.array([0, 1, 2**64 - 1, 0x0123456789ABCDEF], dtype=np.uint64)
    ids = hex_ids(h)
    assert ids.to_pylist() == ["0000000000000000", "0000000000000001", "ffffffffffffffff", "0123456789abcdef"]
    assert np.array_equal(ids_to_hashes(ids), h)


def test_hash_index_and_first_occurrences_match_a_python_set():
    rng = np.random.default_rng(0)
    index, seen = HashIndex(), set()
    for _ in range(50):
        batch = rng.integers(0, 3000, size=rng.integers(0, 400)).astype(np.uint64)
        keep = first_occurrences(batch, index)
        expected = []
        for x in batch.tolist():
            expected.append(x not in seen)
            seen.add(x)
        assert keep.tolist() == expected
    assert len(index) == len(seen)
    assert index.contains(np.array(sorted(seen), dtype=np.uint64)).all()


def test_subset_keys_depend_on_the_seed():
    h = np.arange(1000, dtype=np.uint64)
    assert np.array_equal(subset_keys(h, 1), subset_keys(h, 1))
    assert not np.array_equal(subset_keys(h, 1), subset_keys(h, 2))


def test_ids_to_hashes_takes_slices_chunks_and_rejects_what_is_not_an_id():
    h = splitmix64(np.arange(1000, dtype=np.uint64))
    ids = hex_ids(h)
    assert np.array_equal(ids_to_hashes(ids.slice(10, 20)), h[10:30])
    assert np.array_equal(ids_to_hashes(pa.chunked_array([ids.slice(0, 5), ids.slice(5)])), h)
    assert np.array_equal(ids_to_hashes(ids.cast(pa.large_string())), h)
    assert len(ids_to_hashes(pa.array([], pa.string()))) == 0
    for bad in (["0123"], ["0123456789abcdeg"], ["0123456789ABCDEF"], [None], ["0123456789abcdef0"]):
        with pytest.raises(ValueError):
            ids_to_hashes(pa.array(bad, pa.string()))


def test_slice_hashes_equal_text_hashes():
    texts = ["", "a", "hello", "నేను", "x" * 1000]
    data = "".join(texts).encode()
    ends = np.cumsum([len(t.encode()) for t in texts])
    starts = np.concatenate([[0], ends[:-1]])
    assert np.array_equal(slice_hashes(data, starts, ends), text_hashes(pa.array(texts)))
