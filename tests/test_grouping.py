"""The suite's shared end-to-end runs stay on one pytest-xdist worker (`make test`: pytest -n 2
--dist loadgroup). pytest-xdist 3.8 groups by renaming a node's id, which pytest 9.2 no longer reads:
the groups were split across both workers and each built the default end to end again (the suite's
two slowest setups, 1,194 s and 877 s). conftest.py sets the id pytest 9.2 reads; this checks that
the grouping holds with the pinned pytest and pytest-xdist, whatever they do next."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent

PROBE_CONFTEST = f"""
import importlib.util
import sys

import pytest

sys.path.insert(0, {str(TESTS)!r})
spec = importlib.util.spec_from_file_location("project_conftest", {str(TESTS / "conftest.py")!r})
project = importlib.util.module_from_spec(spec)
spec.loader.exec_module(project)
pytest_collection_modifyitems = project.pytest_collection_modifyitems


@pytest.fixture
def built_workflow():  # stands for the shared run: only its name decides the group
    return None
"""

PROBE_TESTS = """
import os

import pytest


def record(out, name):
    with open(out, "a") as handle:
        handle.write(f"{name} {os.environ.get('PYTEST_XDIST_WORKER', 'none')}\\n")


@pytest.mark.parametrize("i", range(6))
def test_grouped(built_workflow, i, out_file):
    record(out_file, f"grouped{i}")


@pytest.mark.parametrize("i", range(6))
def test_free(i, out_file):
    record(out_file, f"free{i}")


@pytest.fixture
def out_file():
    return os.environ["PROBE_OUT"]
"""


def test_tests_of_a_shared_run_go_to_one_worker(tmp_path):
    probe = tmp_path / "probe"
    probe.mkdir()
    (probe / "conftest.py").write_text(PROBE_CONFTEST)
    (probe / "test_probe.py").write_text(PROBE_TESTS)
    out = tmp_path / "workers.txt"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup",
                           str(probe)], cwd=probe, capture_output=True, text=True,
                          env={**os.environ, "PROBE_OUT": str(out)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    seen = dict(line.split() for line in out.read_text().splitlines())
    assert len(seen) == 12
    grouped = {worker for name, worker in seen.items() if name.startswith("grouped")}
    assert len(grouped) == 1 and grouped <= {"gw0", "gw1"}, seen
