import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.gpus import gpu_slots, gpus_needed  # noqa: E402
from telugu_llm.evaluation.adaptation import measure_all  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402

i, p = snakemake.input, snakemake.params
with logged(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    systems = [{**s, "model_dir": i[s["model_input"]], "tokenizer_dir": i[s["tokenizer_input"]],
                "adaptation": i.get(s["adaptation_input"]) if s.get("adaptation_input") else None} for s in p.systems]
    with gpu_slots(gpus_needed(p.device, 1)):  # a free GPU of this host outside Slurm
        summary = measure_all(systems, shards=Path(i.shards), lang=p.lang, measure=p.measure, device=p.device,
                              items_path=Path(snakemake.output.per_item), summary_path=Path(snakemake.output.summary))
    log.info("measured %d systems: %s", len(systems), json.dumps(summary["systems"], indent=1))
