"""The permutation test of one translation comparison at the study's evaluation size (issue 21):
chrF++ of 200 items in 200 clusters (Monte Carlo, 10,000 sign flips), with sacrebleu's formula
evaluated once per permutation (the baseline) and on all permutations at once (`summary._chrf`),
in the same run; both give the same p-value.

    .venv/bin/python bench/permutation.py      # writes bench/out/permutation.json
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from telugu_llm.evaluation.metrics import chrf_pp
from telugu_llm.evaluation.summary import vectorised
from telugu_llm.intervals import paired_jackknife_t

OUT = Path(__file__).resolve().parent / "out"
WORDS = "వర్షం గ్రామం నది పొలం రైతు పంట వార్త ప్రభుత్వం పాఠశాల విద్యార్థి rain village river field".split()


def sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))) + "." for _ in range(n)]


def main() -> None:
    n = 200
    references = [[r] for r in sentences(n, 1)]
    base, tuned = chrf_pp(sentences(n, 2), references), chrf_pp(sentences(n, 3), references)
    rows = {}
    for name, value in (("sacrebleu per permutation (before)", base.value), ("on all permutations at once", vectorised(base))):
        start = time.perf_counter()
        d = paired_jackknife_t(base.stats, tuned.stats, value, 0.95)
        rows[name] = {"seconds": round(time.perf_counter() - start, 3), "p": d["p"], "diff": d["diff"]}
    before, after = rows.values()
    assert before["p"] == after["p"] and abs(before["diff"] - after["diff"]) < 1e-9, rows
    result = {"items": n, "clusters": n, "permutations": 10_000, **rows,
              "speedup": round(before["seconds"] / after["seconds"], 1)}
    OUT.mkdir(exist_ok=True)
    (OUT / "permutation.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
