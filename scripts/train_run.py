import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
import torch  # noqa: E402

from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.training import RunSettings, train  # noqa: E402

i, p, w = snakemake.input, snakemake.params, snakemake.wildcards
with logged(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    settings = RunSettings.from_config(w.model, w.dataset, dict(p.settings), device=p.device)
    metrics = train(settings=settings, model_dir=Path(i.model), tokenizer_dir=Path(i.tokenizer), prompts_dir=Path(i.prompts),
                    out_dir=Path(snakemake.output.adapter).parent, checkpoint_root=Path(p.checkpoints))
    log.info("trained %s on %s: %d steps, eval loss %s -> %s", w.model, w.dataset, metrics["steps"],
             metrics["eval_loss_before"], metrics["eval_loss"])
