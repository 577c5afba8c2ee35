"""The report's opening summary: each claim the run makes, its verdict and its interval.

A claim is one Benjamini-Hochberg family of the evaluation summary (`family` in differences.csv
and contrasts.csv): one adapter against its base, one recipe pair, one size pair, one twin against
its base. Its verdicts are on each task's headline metric and the degeneration measures only, and
each comparison is counted once (a metric that carries the same evidence as another, such as exact
match beside F1, has no verdict and is not counted). Across seeds (seeds.csv), a change is called
only where its interval over items and seeds excludes 0."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..tasks import HEADLINE
from .evaluation import group_title
from .format import interval_cell

ORDER = ("better", "worse", "equivalent", "inconclusive", "too few items")


def claimed(table: pd.DataFrame) -> pd.DataFrame:
    """The rows that carry a verdict of a claim (a family), not on the study's single prompts."""
    if "family" not in table:
        return table.iloc[0:0]
    family = table["family"].fillna("").astype(str)
    return table[(family != "") & ~table["set"].astype(str).str.startswith("study_probes")]


def verdict_counts(rows: pd.DataFrame) -> str:
    """'2 better, 1 inconclusive of 3', each comparison counted once."""
    counts = rows["verdict"].value_counts()
    parts = [f"{int(counts[v])} {v}" for v in ORDER if counts.get(v, 0)]
    return f"{', '.join(parts) or 'none'} of {len(rows)}"


def _p(value) -> str:
    return "–" if value != value else f"{value:.3g}"


def claim_rows(table: pd.DataFrame, left: str, right: str) -> list[dict]:
    """One row per claim (family) and group on the headline metric, with its verdict and interval;
    `left`/`right`: the columns of the two values (base/tuned or from_value/to_value)."""
    rows = claimed(table)
    headline = rows[rows["metric"] == rows["task"].map(HEADLINE)]
    return [{"claim": r["family"], "group": group_title(r["set"], r["task"], r["lang"]), "metric": r["metric"],
             "values": f"{interval_cell(r[left], math.nan, math.nan)} → {interval_cell(r[right], math.nan, math.nan)}",
             "diff": interval_cell(r["diff"], r["ci_low"], r["ci_high"]), "n": int(r["n"]),
             "clusters": int(r["clusters"]) if r["clusters"] == r["clusters"] else 0, "p_adjusted": _p(r["p_adjusted"]),
             "verdict": r["verdict"]} for r in headline.sort_values(["family", "set", "task", "lang"]).to_dict("records")]


def family_sentences(table: pd.DataFrame) -> list[str]:
    """Per claim: its verdicts on the headline metric and the degeneration measures, each counted once."""
    rows = claimed(table)
    return [f"{family}: {verdict_counts(part)} claimed comparisons (headline metric and degeneration measures, "
            f"one Benjamini-Hochberg family)." for family, part in rows.groupby("family", sort=True)]


def seed_rows(seeds: pd.DataFrame) -> list[dict]:
    """Changes combined across at least 2 seeds on the headline metric, with their interval over items and seeds."""
    if seeds.empty:
        return []
    verdict = seeds["verdict"].fillna("").astype(str)
    part = seeds[(seeds["seeds"] > 1) & (verdict != "") & (seeds["metric"] == seeds["task"].map(HEADLINE))
                 & ~seeds["set"].astype(str).str.startswith("study_probes")]
    return [{"claim": f"{r['model']} {r['dataset']}/{r['recipe']}/{r['subset']} vs {r['against']}",
             "group": group_title(r["set"], r["task"], r["lang"]), "metric": r["metric"], "seeds": int(r["seeds"]),
             "diff": interval_cell(r["diff_mean"], r["diff_ci_low"], r["diff_ci_high"]), "n": int(r["n"]),
             "verdict": r["verdict"]} for r in part.to_dict("records")]


def claims_context(*, differences_csv: Path, contrasts_csv: Path | None = None, seeds_csv: Path | None = None,
                   confidence: float, equivalence: dict | None = None) -> dict:
    differences = pd.read_csv(differences_csv)
    contrasts = pd.read_csv(contrasts_csv, dtype={"from": str, "to": str}) if contrasts_csv else pd.DataFrame()
    seeds = pd.read_csv(seeds_csv, dtype={"subset": str}) if seeds_csv else pd.DataFrame()
    rows = claim_rows(differences, "base", "tuned") + (claim_rows(contrasts, "from_value", "to_value")
                                                       if len(contrasts) else [])
    sentences = family_sentences(differences) + (family_sentences(contrasts) if len(contrasts) else [])
    margins = ", ".join(f"{metric} ±{margin:g}" for metric, margin in sorted((equivalence or {}).items()))
    return {"rows": rows, "sentences": sentences, "seeds": seed_rows(seeds), "confidence": f"{100 * confidence:g} %",
            "alpha": f"{1 - confidence:.2g}", "margins": margins or "none"}
