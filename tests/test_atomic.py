"""Atomic outputs: a failed block leaves nothing, a killed job's temporaries are removed by the next
run of the same output, and every JSON the workflow writes is strict JSON."""

import json
import math

import numpy as np
import pytest

from telugu_llm.atomic import atomic_directory, atomic_file, json_text, write_json


def test_a_failed_block_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_directory(tmp_path / "out") as tmp:
            (tmp / "part").write_text("half")
            raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        with atomic_file(tmp_path / "x.json") as tmp:
            tmp.write_text("{")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_temporaries_of_a_killed_job_are_removed_by_the_next_run(tmp_path):
    # what SIGKILL leaves: the temporary folder and file of another process, beside the outputs
    (tmp_path / ".shards.tmp-4242").mkdir()
    (tmp_path / ".shards.tmp-4242" / "part-00000.parquet").write_bytes(b"x" * 1000)
    (tmp_path / ".quality.json.tmp-4242").write_text('{"rows":')
    (tmp_path / ".other.tmp-4242").mkdir()  # another output's: not this job's to remove
    with atomic_directory(tmp_path / "shards") as tmp:
        (tmp / "part-00000.parquet").write_text("whole")
    write_json(tmp_path / "quality.json", {"rows": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.tmp-4242", "quality.json", "shards"]


def test_json_is_strict():
    text = json_text({"nan": math.nan, "inf": math.inf, "np": np.float32(0.5), "te": "తెలుగు", "nested": [math.nan]})
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON")) == {
        "nan": None, "inf": None, "np": 0.5, "te": "తెలుగు", "nested": [None]}
    assert "తెలుగు" in text


def test_a_full_disk_is_recognised_whoever_reports_it():
    from telugu_llm.logs import disk_full

    assert disk_full(OSError(28, "No space left on device"))
    assert disk_full(OSError("IOError: No space left on device"))  # pyarrow: no errno
    assert disk_full(RuntimeError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })"))  # safetensors
    assert not disk_full(OSError(13, "Permission denied"))
