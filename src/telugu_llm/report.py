"""The one HTML report: self-contained (figures inline, no external requests), every text from data
or a model escaped by Jinja2's autoescaping."""

from __future__ import annotations

import base64
import hashlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import jinja2


PACKAGES = ("snakemake", "pyarrow", "numpy", "pandas", "datasets", "xxhash", "py3langid", "jinja2",
            "matplotlib", "seaborn", "transformers", "peft", "bitsandbytes", "trl", "torch")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


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


def render_report(*, out_html: Path, data_summary: Path, figures: dict[str, Path], config: dict,
                  commit: str) -> None:
    data = json.loads(Path(data_summary).read_text(encoding="utf-8"))
    html = environment().get_template("report.html.j2").render(
        data=data,
        figures={name: _data_uri(path) for name, path in figures.items()},
        provenance={
            "config_yaml": _yaml(config),
            "config_sha256": config_hash(config),
            "commit": commit,
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "machine": platform.machine(),
            "packages": package_versions(),
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
