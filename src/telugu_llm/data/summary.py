"""What the report says about the data: counts, dropped rows, lengths and examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from ..languages import SAMANANTAR_LANGUAGES
from .hashing import SPLITS
from .shards import read_shards


def _stats(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {"mean": None, "median": None, "p95": None, "max": None}
    return {"mean": round(float(values.mean()), 2), "median": round(float(np.median(values)), 2),
            "p95": round(float(np.percentile(values, 95)), 2), "max": int(values.max())}


def samanantar_lengths(shards_dir: Path) -> pd.DataFrame:
    """Characters and whitespace-separated words per side, per row of every split."""
    frames = []
    for split in SPLITS:
        for table in read_shards(Path(shards_dir) / split, columns=["src", "tgt"]):
            frame = {"split": split}
            for side in ("src", "tgt"):
                col = table.column(side)
                frame[f"{side}_chars"] = pc.utf8_length(col).to_numpy(zero_copy_only=False)
                frame[f"{side}_words"] = pc.list_value_length(pc.utf8_split_whitespace(col)).to_numpy(zero_copy_only=False)
            frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def guanaco_lengths(shards_dir: Path) -> pd.DataFrame:
    frames = []
    for split in SPLITS:
        for table in read_shards(Path(shards_dir) / split, columns=["text", "n_turns", "lang", "script"]):
            frames.append(pd.DataFrame({
                "split": split,
                "chars": pc.utf8_length(table.column("text")).to_numpy(zero_copy_only=False),
                "n_turns": table.column("n_turns").to_numpy(),
                "lang": table.column("lang").to_pylist(),
                "script": table.column("script").to_pylist(),
            }))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _examples(shards_dir: Path, columns: list[str], n: int) -> list[dict]:
    rows: list[dict] = []
    for table in read_shards(Path(shards_dir) / "test", columns=columns):
        rows.extend(table.slice(0, n - len(rows)).to_pylist())
        if len(rows) >= n:
            break
    return rows


def summarize_data(*, samanantar_quality: Path, samanantar_shards: Path, subset_metas: list[Path],
                   guanaco_quality: Path, guanaco_shards: Path, examples: int) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """The data section's numbers, plus the per-row lengths the figure is drawn from."""
    sq = json.loads(Path(samanantar_quality).read_text(encoding="utf-8"))
    gq = json.loads(Path(guanaco_quality).read_text(encoding="utf-8"))
    subsets = sorted((json.loads(Path(p).read_text(encoding="utf-8")) for p in subset_metas), key=lambda m: m["size"])
    sl = samanantar_lengths(samanantar_shards)
    gl = guanaco_lengths(guanaco_shards)
    lang = sq["pair"].split("-", 1)[1]
    summary = {
        "samanantar": {
            "pair": sq["pair"],
            "language": SAMANANTAR_LANGUAGES[lang][0],
            "source": sq["source"],
            "inputs": sq["inputs"],
            "rows_read": sq["rows_read"],
            "rows_kept": sq["rows_kept"],
            "splits": sq["splits"],
            "overlap": sq["overlap"],
            "dropped": sq["dropped"],
            "dropped_examples": sq.get("dropped_examples", {}),
            "subsets": [{"size": m["size"], "seed": m["seed"], "train_rows": m["train_rows"]} for m in subsets],
            "lengths": {f"{side}_{unit}": _stats(sl[f"{side}_{unit}"].to_numpy() if len(sl) else np.empty(0))
                        for side in ("src", "tgt") for unit in ("chars", "words")},
            "examples": _examples(samanantar_shards, ["id", "src", "tgt"], examples),
        },
        "guanaco": {
            "source": gq["source"],
            "inputs": gq["inputs"],
            "rows_read": gq["rows_read"],
            "rows_kept": gq["rows_kept"],
            "splits": gq["splits"],
            "dropped": gq["dropped"],
            "malformed": dict(gq["malformed"]),
            "blank_lines_skipped": gq.get("blank_lines_skipped", 0),
            "dropped_examples": gq.get("dropped_examples", {}),
            "languages": gq["languages"],
            "scripts": {k: int(v) for k, v in gl["script"].value_counts().sort_index().items()} if len(gl) else {},
            "turns": _stats(gl["n_turns"].to_numpy() if len(gl) else np.empty(0)),
            "chars": _stats(gl["chars"].to_numpy() if len(gl) else np.empty(0)),
            "examples": _examples(guanaco_shards, ["id", "lang", "script", "turns"], examples),
        },
    }
    return summary, sl, gl
