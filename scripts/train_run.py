import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.settings import from_dict  # noqa: E402
from telugu_llm.train.launch import launch  # noqa: E402
from telugu_llm.train.settings import RunSettings  # noqa: E402

i, p, w = snakemake.input, snakemake.params, snakemake.wildcards
with logged(snakemake.log[0]) as log:
    log.info("CUDA_VISIBLE_DEVICES=%s (the GPUs this job was given)", os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
    settings = from_dict(RunSettings, {"model": w.model, "dataset": w.dataset, "subset": w.subset, "device": p.device,
                                       **p.settings}, key=f"models.{w.model}")
    metrics = launch(settings=settings, model_dir=Path(i.model), tokenizer_dir=Path(i.tokenizer), tokenized_dir=Path(i.tokenized),
                     out_dir=Path(snakemake.output.adapter).parent, checkpoint_root=Path(p.checkpoints),
                     threads=snakemake.threads)
    log.info("trained %s on %s (recipe %s, subset %s, seed %s): %d steps on %d process(es), eval loss %s -> %s",
             w.model, w.dataset, w.recipe, w.subset, w.seed, metrics["steps"],
             metrics["processes"], metrics["eval_loss_before"], metrics["eval_loss"])
