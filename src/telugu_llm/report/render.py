"""The one HTML report: self-contained (figures inline, no external requests), every text from data
or a model escaped by Jinja2's autoescaping. Each section's content comes from its own module."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2

from ..atomic import write_text
from .claims import claims_context
from .evaluation import evaluation_context
from .runs import runs_context
from .prompts import template_examples
from .provenance import provenance_context
from .tokens import fertility_context
from .training import training_context
from .vocab import vocab_context


def _data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(png).read_bytes()).decode("ascii")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("telugu_llm.report", "templates"),
        autoescape=True,  # every value is escaped unless marked safe; no data or model text is
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else n
    env.filters["pct"] = lambda x, total: f"{100 * x / total:.1f} %" if total else "–"
    return env


def render_report(*, out_html: Path, data_summary: Path, figures: dict[str, Path], config: dict, commit: str,
                  fertility: dict | None = None, prompt_dirs: list[Path] = (), training_summary: Path | None = None,
                  evaluation: dict | None = None, runs: dict | None = None, vocab: dict | None = None,
                  benchmark_root: Path | None = None) -> None:
    """Render every section whose inputs are given (a section without them is left out)."""
    data = json.loads(Path(data_summary).read_text(encoding="utf-8"))
    claims = claims_context(differences_csv=evaluation["differences_csv"], contrasts_csv=(runs or {}).get("contrasts_csv"),
                            seeds_csv=(runs or {}).get("seeds_csv"), confidence=evaluation["confidence"],
                            equivalence=evaluation.get("equivalence")) if evaluation else None
    html = environment().get_template("report.html.j2").render(
        data=data,
        claims=claims,
        training=training_context(training_summary, config["intervals"]["confidence"]) if training_summary else None,
        evaluation=evaluation_context(**evaluation) if evaluation else None,
        runs=runs_context(**runs) if runs else None,
        vocab=vocab_context(**vocab) if vocab else None,
        fertility=fertility_context(**fertility) if fertility else None,
        templates=template_examples(prompt_dirs),
        figures={name: _data_uri(path) for name, path in figures.items()},
        provenance=provenance_context(config, commit, benchmark_root),
    )
    write_text(out_html, html)
