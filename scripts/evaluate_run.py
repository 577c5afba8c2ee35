import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
import torch  # noqa: E402

from telugu_llm.evaluation.run import evaluate  # noqa: E402
from telugu_llm.evaluation.settings import GenerationSettings  # noqa: E402
from telugu_llm.gpus import gpu_slots, gpus_needed  # noqa: E402
from telugu_llm.loading import Quantization  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.settings import from_dict  # noqa: E402

i, p, w = snakemake.input, snakemake.params, snakemake.wildcards
with logged(snakemake.log[0]) as log:
    log.info("CUDA_VISIBLE_DEVICES=%s (the GPUs this job was given)", os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
    torch.set_num_threads(snakemake.threads)
    with gpu_slots(gpus_needed(p.device, 1)):  # a free GPU of this host outside Slurm, before CUDA starts
        result = evaluate(model_name=w.model, adapter=w.adapter, template=p.model["template"],
                          quantization=from_dict(Quantization, p.model["quantization"], key=f"models.{w.model}.quantization"),
                          settings=from_dict(GenerationSettings, p.settings, key="evaluation"), model_dir=Path(i.model),
                          tokenizer_dir=Path(i.tokenizer), sets_dir=Path(i.sets),
                          adapter_dir=Path(i.adapter) if "adapter" in i.keys() else None,
                          out_dir=Path(snakemake.output.generations).parent, device=p.device,
                          probe_template=p.model["probe_template"])
    log.info("evaluated %s/%s: %d items, %.1f generated tokens/s, stop reasons %s", w.model, w.adapter,
             result["items"], result["generated_tokens_per_second"] or 0, result["stop_reasons"])
