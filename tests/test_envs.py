"""The per-rule conda envs pin the same versions as the Python lock."""

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_lock_pins_every_direct_requirement_identically():
    pins = lock()
    for line in (REPO / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            assert pins[name.lower()] == version, name


def test_every_env_parses_and_pins_the_lock_versions():
    pins = lock()
    envs = sorted((REPO / "envs").glob("*.yaml"))
    assert envs
    for env in envs:
        spec = yaml.safe_load(env.read_text())
        deps = spec["dependencies"]
        assert "python=3.11" in deps, env.name
        pip = next(d["pip"] for d in deps if isinstance(d, dict))
        assert pip, env.name
        for req in pip:
            name, version = req.split("==")
            assert pins[name.lower()] == version, f"{env.name}: {req} but the lock has {pins.get(name.lower())}"
