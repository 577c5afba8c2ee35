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


NOT_STATED = "not stated in the config (read the source's card before use)"


def _origin(spec: dict) -> tuple[str, str, str]:
    """(source, where, revision) of a tokenizer or weights spec."""
    if spec.get("source") == "hub":
        return "hub", spec["repo"], spec.get("revision", "main")
    if spec.get("source") == "package":
        packages = [spec["package"]] if spec.get("package") else [part["package"] for part in spec.get("parts", [])]
        names = sorted({p.split("==")[0] for p in packages})
        versions = sorted({p.split("==")[1] for p in packages if "==" in p})
        return "package", ", ".join(names), ", ".join(versions)
    return spec.get("source", "?"), str(spec.get("path") or spec.get("architecture") or ""), ""


def sources(config: dict) -> list[dict]:
    """Every dataset, tokenizer and model the run reads: where from, at which revision, under which
    licence (config `licences`, keyed by hub repository or package; unnamed ones say so)."""
    licences = config.get("licences") or {}

    def row(kind, name, source, where, revision):
        key = where if source in ("hub", "package") else source
        licence = licences.get(key) or (", ".join(sorted({licences[w] for w in where.split(", ") if w in licences}))
                                        if source == "package" else None)
        return {"kind": kind, "name": name, "source": source, "where": where, "revision": revision,
                "licence": licence or NOT_STATED}

    rows = []
    for name in ("samanantar", "guanaco"):
        spec = config.get(name)
        if not spec:
            continue
        if spec["source"] == "hub":
            rows.append(row("dataset", name, "hub", spec["hub"]["repo"], spec["hub"]["revision"]))
        else:
            rows.append(row("dataset", name, spec["source"], str(spec.get("path") or f"data/{name}"), ""))
    fertility, evaluation = config.get("fertility", {}), config.get("evaluation", {})
    for corpus in fertility.get("corpora", []):
        if corpus.get("source") == "hub":
            rows.append(row("dataset", f"fertility: {corpus['name']}", "hub", corpus["repo"], corpus["revision"]))
    if evaluation.get("enabled"):
        for entry in evaluation.get("hub", []):
            rows.append(row("dataset", f"evaluation: {entry['name']}", "hub", entry["repo"], entry["revision"]))
    all_models = config.get("models", {})
    chosen = config.get("train", {}).get("models")
    models = sorted(all_models) if chosen is None else chosen
    tokenizers = sorted({*fertility.get("tokenizers", []), *(all_models[m]["tokenizer"] for m in models)})
    for name in tokenizers:
        rows.append(row("tokenizer", name, *_origin(config["tokenizers"][name])))
    for name in models:
        weights = all_models[name].get("weights")
        if weights:
            rows.append(row("model", name, *_origin(weights)))
    return rows


def provenance_context(config: dict, commit: str, benchmark_root: Path | None) -> dict:
    return {
        "sources": sources(config),
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
