"""The report's provenance section: the config and its hash, the commit, the packages, the machine,
and each job's wall time, CPU time and peak memory."""

from __future__ import annotations

import csv
import platform
import sys
from pathlib import Path

import yaml

from ..config import active_models
from ..extended import extended_tokenizers
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
    """(source, where, revision) of a tokenizer or weights spec (filled by the schema)."""
    source = spec["source"]
    if source == "hub":
        return "hub", spec["repo"], spec["revision"]
    if source == "package":
        packages = [part["package"] for part in spec["parts"]] if spec.get("parts") else [spec["package"]]
        names = sorted({p.split("==")[0] for p in packages})
        versions = sorted({p.split("==")[1] for p in packages if "==" in p})
        return "package", ", ".join(names), ", ".join(versions)
    return source, str(spec.get("path") or spec.get("architecture") or ""), ""


def sources(config: dict) -> list[dict]:
    """Every dataset, tokenizer and model the run reads: where from, at which revision, under which
    licence (config `licences`, keyed by hub repository or package; unnamed ones say so). `config`
    is the workflow's, its defaults filled by the schema."""
    licences = config["licences"]

    def row(kind, name, source, where, revision):
        key = where if source in ("hub", "package") else source
        licence = licences.get(key) or (", ".join(sorted({licences[w] for w in where.split(", ") if w in licences}))
                                        if source == "package" else None)
        return {"kind": kind, "name": name, "source": source, "where": where, "revision": revision,
                "licence": licence or NOT_STATED}

    rows = []
    for name in ("samanantar", "guanaco"):
        spec = config[name]
        if spec["source"] == "hub":
            rows.append(row("dataset", name, "hub", spec["hub"]["repo"], spec["hub"]["revision"]))
        else:
            rows.append(row("dataset", name, spec["source"], str(spec["path"] or f"data/{name}"), ""))
    for corpus in config["fertility"]["corpora"]:
        if corpus["source"] == "hub":
            rows.append(row("dataset", f"fertility: {corpus['name']}", "hub", corpus["repo"], corpus["revision"]))
    if config["evaluation"]["enabled"]:
        for entry in config["evaluation"]["hub"]:
            rows.append(row("dataset", f"evaluation: {entry['name']}", "hub", entry["repo"], entry["revision"]))
    models = active_models(config)
    tokenizers = sorted({*config["fertility"]["tokenizers"], *(config["models"][m]["tokenizer"] for m in models)})
    extended = extended_tokenizers(config)
    for name in tokenizers:
        if name in extended:  # made by the vocabulary stage from a retrieved tokenizer: its base's origin and licence
            base = extended[name]["base_tokenizer"]
            source, where, revision = _origin(config["tokenizers"][base])
            licence = row("tokenizer", base, source, where, revision)["licence"]
            rows.append({**row("tokenizer", name, "vocabulary stage",
                               f"{base} with {extended[name]['pieces']} pieces learned from {', '.join(config['vocab']['sources'])}",
                               ""), "licence": licence})
            continue
        rows.append(row("tokenizer", name, *_origin(config["tokenizers"][name])))
    for name in models:
        weights = config["models"][name]["weights"]
        if weights and not config["models"][name].get("extends"):  # an extended model reads its base's weights
            rows.append(row("model", name, *_origin(weights)))
    return rows


def provenance_context(config: dict, commit: str, benchmark_root: Path | None) -> dict:
    return {
        "sources": sources(config) if "licences" in config else [],  # a workflow config (report tests pass less)
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
