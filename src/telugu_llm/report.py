"""The one HTML report: self-contained (figures inline, no external requests), every text from data
or a model escaped by Jinja2's autoescaping."""

from __future__ import annotations

import base64
import hashlib
import json
import platform
import subprocess
import sys
from pathlib import Path

import jinja2

from .provenance import installed_versions


PACKAGES = ("snakemake", "pyarrow", "numpy", "pandas", "datasets", "xxhash", "py3langid", "jinja2", "tokenizers",
            "sentencepiece", "protobuf", "gguf", "huggingface-hub",
            "matplotlib", "seaborn", "transformers", "peft", "bitsandbytes", "trl", "torch", "sacrebleu", "rouge-score")


def package_versions(names=PACKAGES) -> dict[str, str]:
    return installed_versions(names)


def config_hash(config: dict) -> str:
    canonical = json.dumps(config, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def git_commit(directory: Path) -> str:
    """The commit of the workflow's checkout, with "+dirty" when it has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=directory,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def _data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("telugu_llm", "templates"),
        autoescape=True,  # every value is escaped unless marked safe; no data or model text is
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    env.filters["pct"] = lambda x, total: f"{100 * x / total:.1f} %" if total else "–"
    return env


FERTILITY_TABLE = [
    ("tokenizer", "tokenizer"), ("corpus", "corpus"), ("lang", "lang"), ("sentences", "sentences"),
    ("words", "words"), ("tokens", "tokens (joined)"), ("premium", "premium"), ("fertility", "fertility"),
    ("continued_word_share", "continued words"), ("chars_per_token", "chars / token"),
    ("bytes_per_token", "bytes / token"), ("byte_fallback_share", "byte fallback"), ("unk_share", "unknown"),
    ("tokens_per_sentence_mean", "tokens / sentence"), ("tokens_per_sentence_p95", "p95"),
    ("script_vocab_pieces", "vocabulary in script"),
]


def fertility_context(summary_csv: Path, costs_csv: Path, examples_json: Path) -> dict:
    import pandas as pd

    summary = pd.read_csv(summary_csv)
    costs = pd.read_csv(costs_csv)
    rows = []
    for rec in summary.to_dict("records"):
        rows.append([_fmt(rec[key]) for key, _ in FERTILITY_TABLE])
    return {
        "columns": [label for _, label in FERTILITY_TABLE],
        "rows": rows,
        "costs": costs.to_dict("records"),
        "examples": json.loads(Path(examples_json).read_text(encoding="utf-8")),
        "findings": fertility_findings(summary, costs),
    }


def _fmt(value):
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else value


def fertility_findings(summary, costs) -> list[str]:
    """Sentences generated from measured values only."""
    out = []
    test = summary[summary["corpus"] == "samanantar-test"]
    other = test[test["lang"] != "en"].set_index("tokenizer")
    if len(other):
        lang = other["lang"].iloc[0]
        worst, best = other["premium"].idxmax(), other["premium"].idxmin()
        out.append(f"On the Samanantar test split, {worst} needs {other.loc[worst, 'premium']:.2f} times as many tokens for "
                   f"the {lang} side as for the English side; {best} needs {other.loc[best, 'premium']:.2f} times.")
        if {"llama2", "mistral"} <= set(other.index):
            ratio = other.loc["llama2", "tokens"] / other.loc["mistral", "tokens"]
            out.append(f"Llama-2's tokenizer needs {ratio:.2f} times as many tokens as Mistral's for the same {lang} text; "
                       f"{100 * other.loc['llama2', 'byte_fallback_share']:.1f} % of Llama-2's and "
                       f"{100 * other.loc['mistral', 'byte_fallback_share']:.1f} % of Mistral's {lang} tokens are byte-fallback pieces.")
    if len(costs):
        worst = costs.sort_values("truncated_share", ascending=False).iloc[0]
        if worst["truncated_share"] > 0:
            out.append(f"With a maximum length of {int(worst['max_length'])} tokens, {100 * worst['truncated_share']:.1f} % of the "
                       f"{worst['dataset']} {worst['split']} examples would be truncated under {worst['tokenizer']} and the "
                       f"{worst['template']} template.")
    return out


def template_examples(prompt_dirs: list[Path]) -> list[dict]:
    """The first training example of each (template, dataset), as prompt and completion."""
    import pyarrow.parquet as pq

    out = []
    for directory in prompt_dirs:
        directory = Path(directory)
        table = pq.read_table(directory / "train.parquet", columns=["prompt", "completion", "task"])
        if table.num_rows:
            row = table.slice(0, 1).to_pylist()[0]
            out.append({"template": directory.parent.name, "dataset": directory.name, **row})
    return out


def training_context(summary_csv: Path) -> dict:
    """Runs as columns, settings and results as rows (the hyperparameter table of the report)."""
    import pandas as pd

    table = pd.read_csv(summary_csv)
    runs = [f"{r.model} / {r.dataset}" for r in table.itertuples()]
    rows = [(column, [_fmt(v.item() if hasattr(v, "item") else v) for v in table[column]])
            for column in table.columns if column not in ("model", "dataset")]
    findings = []
    for r in table.itertuples():
        if r.eval_loss_before == r.eval_loss_before and r.eval_loss == r.eval_loss:  # not NaN
            change = "fell" if r.eval_loss < r.eval_loss_before else "did not fall"
            findings.append(f"{r.model} on {r.dataset}: the validation loss {change} from {r.eval_loss_before:.3f} to "
                            f"{r.eval_loss:.3f} in {r.steps} steps, at {r.tokens_per_second:.0f} non-padding tokens/s "
                            f"on {r.device} with {r.peak_memory_gib:.2f} GiB peak memory.")
    return {"runs": runs, "rows": rows, "findings": findings}


def benchmarks(root: Path) -> list[dict]:
    """Each job's wall time and peak memory, from the `benchmark:` files Snakemake wrote."""
    import csv

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


def hardware() -> dict:
    """The machine the report was rendered on (the jobs ran on it too unless run on a cluster)."""
    import os

    cpu, memory = platform.processor() or platform.machine(), None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": memory}


def render_report(*, out_html: Path, data_summary: Path, figures: dict[str, Path], config: dict,
                  commit: str, fertility: dict | None = None, prompt_dirs: list[Path] = (),
                  training_summary: Path | None = None, evaluation: dict | None = None,
                  benchmark_root: Path | None = None) -> None:
    from .eval_report import evaluation_context

    data = json.loads(Path(data_summary).read_text(encoding="utf-8"))
    html = environment().get_template("report.html.j2").render(
        data=data,
        training=training_context(training_summary) if training_summary else None,
        evaluation=evaluation_context(**evaluation) if evaluation else None,
        fertility=fertility_context(**fertility) if fertility else None,
        templates=template_examples(prompt_dirs),
        figures={name: _data_uri(path) for name, path in figures.items()},
        provenance={
            "config_yaml": _yaml(config),
            "config_sha256": config_hash(config),
            "commit": commit,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "machine": platform.machine(),
            "packages": package_versions(),
            "hardware": hardware(),
            "benchmarks": benchmarks(benchmark_root) if benchmark_root and Path(benchmark_root).is_dir() else [],
        },
    )
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_html.with_name(f".{out_html.name}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out_html)


def _yaml(config: dict) -> str:
    import yaml

    return yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
