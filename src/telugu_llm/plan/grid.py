"""Which runs of the grid are trained (train.skip), and what ties a planned row to a run: the
fingerprint of its settings, so that a plan made for another configuration is never read."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path

from ..errors import InputError

DIMENSIONS = ("model", "dataset", "recipe", "subset", "seed")


def _values(value) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value])]


def skipped(run: dict, skip: list[dict]) -> bool:
    """Whether a run of the grid matches an entry of train.skip: an entry names some dimensions, each
    with a value or a list of values, and matches every run that has one of them in each."""
    return any(all(str(run[key]) in _values(value) for key, value in entry.items()) for entry in skip)


def check_skip(skip: list[dict], known: dict[str, set[str] | None]) -> None:
    """Every value that train.skip names is one the config defines (`known`, per dimension; None: any):
    a mistyped size would skip nothing and train (and pay for) runs the plan meant to drop."""
    for index, entry in enumerate(skip):
        for key, value in entry.items():
            unknown = [v for v in _values(value) if known[key] is not None and v not in known[key]]
            if unknown:
                raise InputError(f"config key train.skip[{index}].{key}: {', '.join(unknown)} is not a {key} of the "
                                 f"config ({', '.join(sorted(known[key]))})")


def check_estimate(estimate: dict | None, subsets: list[int]) -> None:
    """plan.estimate measures a subset that the data stage builds."""
    if estimate is not None and estimate["samanantar_subset"] not in subsets:
        raise InputError(f"config key plan.estimate.samanantar_subset: {estimate['samanantar_subset']} is not one of "
                         f"samanantar.subsets {subsets}")


def fingerprint(settings: dict) -> str:
    """A short hash of a run's settings (what its job depends on in the config)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def planned_runtime(cost_csv: str | Path, run: dict, settings_fingerprint: str, *, margin: float,
                    fallback: int) -> int:
    """Minutes of a training job: its planned GPU-hours (cost.csv, the `plan` target's) divided by
    its processes, times the margin; `fallback` (models.<name>.resources.runtime) while there is no
    plan, or none for this run with these settings (a plan of an edited config is stale)."""
    path = Path(cost_csv)
    if not path.is_file():
        return fallback
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if all(row[key] == str(run[key]) for key in DIMENSIONS) and row["fingerprint"] == settings_fingerprint:
                return max(1, math.ceil(float(row["wall_hours"]) * 60 * margin))
    return fallback
