import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.evaluation.adaptation import adaptation_rows, read_items  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.vocab.compare import compare_run, generation_speed, write_comparison  # noqa: E402

p, i = snakemake.params, snakemake.input
with logged(snakemake.log[0]) as log:
    rows = []
    for n, run in enumerate(p.runs):
        evaluations = None
        if run["evaluated"]:
            evaluations = tuple(generation_speed(Path(i[f"generations_{n}_{side}"]), Path(i[f"eval_{n}_{side}"]))
                                for side in ("base", "twin"))
        rows += compare_run(model=run["model"], twin=run["twin"], run=run["run"],
                            tokenizers=(i[f"tokenizer_{n}_base"], i[f"tokenizer_{n}_twin"]),
                            prompts=Path(i[f"prompts_{n}"]) / "train.parquet", max_length=run["max_length"],
                            train_metrics=(Path(i[f"train_{n}_base"]), Path(i[f"train_{n}_twin"])),
                            evaluations=evaluations, confidence=p.intervals["confidence"])
    for a in p.adaptations:
        rows += adaptation_rows(model=a["model"], twin=a["twin"], inits=list(p.inits), lang=p.lang,
                                items=read_items(Path(i[f"adapt_items_{a['model']}"])),
                                summary=json.loads(Path(i[f"adapt_{a['model']}"]).read_text()),
                                confidence=p.intervals["confidence"])
    write_comparison(rows, Path(snakemake.output.table))
    log.info("%d rows for %d runs and %d adaptations", len(rows), len(p.runs), len(p.adaptations))
