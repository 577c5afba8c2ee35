"""The plan's outputs: cost.csv (a row per run), summary.json (the total, with what each dimension
costs) and cost.md (the same as tables, for the README)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..atomic import atomic_file, write_json

DIMENSIONS = ("model", "dataset", "recipe", "subset", "seed", "twin")


def dimension_costs(cost: pd.DataFrame) -> pd.DataFrame:
    """Per value of each dimension: runs, GPU-hours and share of the total."""
    total = cost["gpu_hours"].sum()
    parts = []
    for dimension in DIMENSIONS:
        keys = cost["dataset"] + "/" + cost["subset"].astype(str) if dimension == "subset" else cost[dimension]
        grouped = cost.groupby(keys.astype(str), sort=True).agg(runs=("gpu_hours", "size"),
                                                                 gpu_hours=("gpu_hours", "sum"))
        grouped = grouped.reset_index(names="value")
        grouped.insert(0, "dimension", "size" if dimension == "subset" else dimension)
        parts.append(grouped)
    table = pd.concat(parts, ignore_index=True)
    table["share"] = (table["gpu_hours"] / total).round(4) if total else 0.0
    table["gpu_hours"] = table["gpu_hours"].round(2)
    return table


def summary(cost: pd.DataFrame, plan: dict) -> dict:
    table = dimension_costs(cost)
    return {"gpu": plan["gpu"], "runs": int(len(cost)), "gpu_hours": round(float(cost["gpu_hours"].sum()), 2),
            "gpu_hours_low": round(float(cost["gpu_hours_low"].sum()), 2),
            "gpu_hours_high": round(float(cost["gpu_hours_high"].sum()), 2),
            "train_hours": round(float(cost["train_hours"].sum()), 2),
            "eval_hours": round(float(cost["eval_hours"].sum()), 2),
            "tokens": int(cost["tokens"].sum()), "processed_tokens": int(cost["processed_tokens"].sum()),
            "examples_estimated": bool(cost["examples_estimated"].any()),
            "by": {dim: {row.value: {"runs": int(row.runs), "gpu_hours": float(row.gpu_hours), "share": float(row.share)}
                         for row in group.itertuples()} for dim, group in table.groupby("dimension", sort=False)}}


def markdown(cost: pd.DataFrame, plan: dict) -> str:
    facts = summary(cost, plan)
    lines = [f"{facts['runs']} runs, {facts['gpu_hours']:,.1f} {plan['gpu']} GPU-hours "
             f"(interval {facts['gpu_hours_low']:,.1f}-{facts['gpu_hours_high']:,.1f}; validation "
             f"{facts['eval_hours']:,.1f} of them)" + (" from estimated example counts" if facts["examples_estimated"] else ""),
             "", "| dimension | value | runs | GPU-hours | share |", "|---|---|---|---|---|"]
    for row in dimension_costs(cost).itertuples():
        lines.append(f"| {row.dimension} | {row.value} | {row.runs} | {row.gpu_hours:,.1f} | {row.share:.0%} |")
    return "\n".join(lines) + "\n"


def write_plan(rows: list[dict], plan: dict, *, cost_path: Path, summary_path: Path, markdown_path: Path) -> None:
    cost = pd.DataFrame(rows)
    with atomic_file(Path(cost_path)) as tmp:
        cost.to_csv(tmp, index=False)
    write_json(Path(summary_path), summary(cost, plan))
    with atomic_file(Path(markdown_path)) as tmp:
        Path(tmp).write_text(markdown(cost, plan))
