"""The report's "Vocabulary extension" section: what each extended tokenizer added and from what,
the premium and fertility against the number of pieces, one Telugu sentence as tokens before and
after, and each model beside its extended twin on the same runs (costs and speeds from
results/vocab/comparison.csv, quality paired on the same items from contrasts.csv). Every finding
carries its numbers, its items and its method; a timing is one run's, and says so."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..data.text import clip
from ..resources import SOURCE_JSON
from ..tasks import HEADLINE
from .evaluation import SHOWN_CHARS
from .format import interval_cell, interval_text, number
from .runs import contrast_rows

ADAPT_RUN = "adapt"  # comparison.csv's run of the adaptation stage's rows (evaluation/adaptation.py)


def _extension_row(tokenizer_dir: Path) -> dict:
    source = json.loads((Path(tokenizer_dir) / SOURCE_JSON).read_text())
    ext = source["extension"]
    text = ext["text"]
    return {"tokenizer": source["name"], "base": ext["base"], "kind": ext["kind"], "pieces": ext["pieces"],
            "learned": ext["learned"], "added": ext["added"], "ids": f"{ext['first_new_id']}–{source['vocab_size'] - 1}",
            "sentences": text["sentences"],
            "sources": "; ".join(f"{name}: {c['used']} of {c['read']} lines ({c['held_out']} held out, {c['empty']} empty)"
                                 for name, c in text["sources"].items() if isinstance(c, dict)),
            "round_trip": ext["round_trip_sentences"], "english": ext["english_sentences"],
            "tokens": f"{ext['tokens_base']:,} → {ext['tokens_extended']:,}"}


def _comparison_rows(table: pd.DataFrame) -> list[dict]:
    return [{"model": r["model"], "twin": r["twin"], "run": r["run"], "measure": r["measure"],
             "base": number(float(r["base"])) if r["base"] == r["base"] else "–",
             "extended": number(float(r["extended"])) if r["extended"] == r["extended"] else "–",
             "ratio": f"{r['ratio']:.2f}×" if r["ratio"] == r["ratio"] else "–",
             "diff": interval_cell(float(r["diff"]), float(r["ci_low"]), float(r["ci_high"])) if r["diff"] == r["diff"] else "–",
             "n": int(r["n"]), "method": r["method"]} for r in table.to_dict("records")]


def vocab_findings(comparison: pd.DataFrame, contrasts: pd.DataFrame, min_items: int, confidence: float) -> list[str]:
    out = []
    level = f"{100 * confidence:g} %"
    for (model, twin, run), part in comparison[comparison["run"] != ADAPT_RUN].groupby(["model", "twin", "run"], sort=True):
        by = {r["measure"]: r for r in part.to_dict("records")}
        tokens = by.get("tokens per training example")
        parts = []
        if tokens is not None:
            parts.append(f"tokens per training example {tokens['base']:.1f} → {tokens['extended']:.1f} "
                         f"(difference {tokens['diff']:+.1f}, {interval_text(level, tokens['ci_low'], tokens['ci_high'], '.1f')}, "
                         f"{int(tokens['n'])} examples)")
        for measure in ("training examples/s", "training non-padding tokens/s", "generated characters/s"):
            r = by.get(measure)
            if r is not None and r["ratio"] == r["ratio"]:
                parts.append(f"{measure} {r['base']:.3g} → {r['extended']:.3g} ({r['ratio']:.2f}×, one timing each)")
        items = by.get("evaluation items within max_prompt_tokens")
        if items is not None and items["base"] != items["extended"]:
            parts.append(f"evaluation items whose prompt fits max_prompt_tokens {int(items['base'])} → "
                         f"{int(items['extended'])} (the speeds above are over these different items)")
        out.append(f"{twin} against {model} ({run}): " + "; ".join(parts) + ".")
        quality = contrasts[(contrasts["dimension"] == "vocabulary") & (contrasts["to"] == twin)
                            & (contrasts["from"] == run)]
        headline = quality[(quality["metric"] == quality["task"].map(HEADLINE)) & ~quality["set"].str.startswith("study_probes")
                           & (quality["n"] >= min_items)]
        if len(headline):
            counts = headline["verdict"].value_counts()
            out.append(f"{twin} against {model} ({run}), quality on the same items: of {len(headline)} headline "
                       f"comparisons with at least {min_items} items, {int(counts.get('better', 0))} better, "
                       f"{int(counts.get('worse', 0))} worse, {int(counts.get('equivalent', 0))} equivalent, "
                       f"{int(counts.get('inconclusive', 0))} inconclusive "
                       f"({level} paired jackknife-t intervals, Benjamini-Hochberg).")
        stops = quality[(quality["metric"] == "stop_rate") & ~quality["set"].str.startswith("study_probes")]
        if len(stops):
            out.append(f"{twin} against {model} ({run}), stop rate: mean over {len(stops)} groups "
                       f"{stops['from_value'].mean():.2f} → {stops['to_value'].mean():.2f}.")
    return out


def adaptation_findings(comparison: pd.DataFrame, confidence: float) -> list[str]:
    """Per comparison of the adaptation stage (run `adapt`): bits per character of each side with
    the paired interval of the difference and the relative change, generated characters per second
    with its interval, and training sentences per second (one timing each)."""
    level = f"{100 * confidence:g} %"
    out = []
    for (model, twin), part in comparison[comparison["run"] == ADAPT_RUN].groupby(["model", "twin"], sort=False):
        parts = []
        for r in part.to_dict("records"):
            if r["measure"].startswith("bits per character") or r["measure"] == "generated characters/s":
                change = f"{100 * (r['ratio'] - 1):+.1f} %" if r["ratio"] == r["ratio"] else "–"
                parts.append(f"{r['measure']} {r['base']:.3g} → {r['extended']:.3g} ({change}; difference "
                             f"{r['diff']:+.3g}, {interval_text(level, r['ci_low'], r['ci_high'], '+.3g')}, {int(r['n'])} items)")
            elif r["measure"] == "training sentences/s":
                parts.append(f"training sentences/s {r['base']:.3g} → {r['extended']:.3g} ({r['ratio']:.2f}×, one timing each)")
        out.append(f"{twin} against {model}: " + "; ".join(parts) + ".")
    return out


def _replay(adaptation: dict) -> str:
    """The English replay's share of the base model's tokens (adapt.replay), and the share asked where
    the sources held fewer."""
    replay = adaptation.get("text", {}).get("replay") if adaptation else None
    if not replay:
        return "–"
    if not replay["share_asked"]:
        return "none"
    return f"{replay['share']:.0%}" + (f" (asked {replay['share_asked']:.0%})" if "short" in replay else "")


def adaptation_systems(measures: list[Path], lang: str) -> list[dict]:
    """One row per system the adaptation stage measured (measures.json): its held-out measures,
    its adaptation's steps and loss, and the continuation it generated for the first prompt."""
    rows = []
    for path in measures:
        summary = json.loads(Path(path).read_text(encoding="utf-8"))
        for name, system in summary["systems"].items():
            adaptation = system["adaptation"] or {}
            example = system.get("example") or {}
            rows.append({"system": name, "bits_lang": number(float(system[f"bits_{lang}"])),
                         "bits_en": number(float(system["bits_en"])),
                         "chars_per_second": number(float(system["chars_per_second"])),
                         "sentences_per_second": number(float(adaptation["sentences_per_second"])) if adaptation else "–",
                         "replay": _replay(adaptation),
                         "steps": adaptation.get("steps", "–"),
                         "loss": f"{adaptation['loss_first']:.3f} → {adaptation['loss_last']:.3f}" if adaptation else "–",
                         "prompt": clip(example.get("prompt", ""), SHOWN_CHARS),
                         "output": clip(example.get("output", ""), SHOWN_CHARS)})
    return rows


def vocab_context(*, comparison_csv: Path, curve_csv: Path, contrasts_csv: Path | None, tokenizer_dirs: list[Path],
                  examples: list[Path], confidence: float, min_items: int, equivalence: dict | None = None,
                  adaptation: list[Path] = (), lang: str = "te") -> dict:
    """`equivalence` (the config's margins) is shown by the report's opening summary (claims.py)."""
    comparison = pd.read_csv(comparison_csv)
    curve = pd.read_csv(curve_csv)
    contrasts = (pd.read_csv(contrasts_csv, dtype={"from": str, "to": str}) if contrasts_csv is not None
                 else pd.DataFrame(columns=["dimension", "from", "to", "set", "task", "lang", "metric", "n", "verdict"]))
    quality = contrasts[contrasts["dimension"] == "vocabulary"]
    shown = {example["tokenizer"]: example for example in (json.loads(Path(p).read_text(encoding="utf-8"))
                                                            for p in examples)}
    extensions = [_extension_row(d) for d in tokenizer_dirs]
    pairs = [(shown[e["base"]], shown[e["tokenizer"]]) for e in extensions if e["base"] in shown and e["tokenizer"] in shown]
    curve_rows = [{"tokenizer": r["tokenizer"], "pieces": int(r["pieces"]),
                   "added": "–" if r["added"] != r["added"] else int(r["added"]),
                   "premium": number(float(r["premium"])) if r["premium"] == r["premium"] else "–",
                   "fertility": number(float(r["fertility"])) if r["fertility"] == r["fertility"] else "–",
                   "note": "" if r["note"] != r["note"] else r["note"]} for r in curve.to_dict("records")]
    return {"extensions": extensions, "curve": curve_rows, "comparison": _comparison_rows(comparison),
            "quality": contrast_rows(quality, "vocabulary") if len(quality) else [], "pairs": pairs,
            "findings": vocab_findings(comparison, contrasts, min_items, confidence),
            "adaptation": adaptation_systems(list(adaptation), lang), "adaptation_findings": adaptation_findings(
                comparison, confidence), "lang": lang,
            "test_sentences": int(curve["sentences"].iloc[0]) if len(curve) else 0}
