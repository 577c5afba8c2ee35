"""The report's provenance section: the config and its hash, the commit, the packages, the machine,
and each job's wall time, CPU time and peak memory."""

from __future__ import annotations

import csv
import platform
import sys
from pathlib import Path

import yaml

from ..provenance import config_hash, hardware, installed_versions

PACKAGES = ("snakemake", "pyarrow", "numpy", "pandas", "datasets", "xxhash", "py3langid", "jinja2", "tokenizers",
            "sentencepiece", "protobuf", "gguf", "huggingface-hub",
            "matplotlib", "seaborn", "transformers", "peft", "bitsandbytes", "trl", "torch", "sacrebleu", "rouge-score")


def benchmarks(root: Path) -> list[dict]:
    """Each job's wall time and peak memory, from the `benchmark:` files Snakemake wrote."""
    rows = []
    for path in sorted(Path(root).rglob("*.tsv")):
        with open(path, newline="") as handle:
            records = list(csv.DictReader(handle, delimiter="\t"))
        if not records:
            continue
        rec = records[-1]

        def num(key):
            try:
                return float(rec.get(key, "nan"))
            except ValueError:
                return float("nan")

        rows.append({"job": str(path.relative_to(root).with_suffix("")), "seconds": num("s"), "max_rss_mb": num("max_rss"),
                     "cpu_seconds": num("cpu_time")})
    return rows


def provenance_context(config: dict, commit: str, benchmark_root: Path | None) -> dict:
    return {
        "config_yaml": yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        "config_sha256": config_hash(config),
        "commit": commit,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": installed_versions(PACKAGES),
        "hardware": hardware(),
        "benchmarks": benchmarks(benchmark_root) if benchmark_root and Path(benchmark_root).is_dir() else [],
    }
