import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.prompts.costs import template_costs  # noqa: E402

p = snakemake.params
with logged(snakemake.log[0]):
    costs = template_costs(tokenizer_dir=snakemake.input.tokenizer, tokenizer_name=snakemake.wildcards.tokenizer,
                           prompt_dirs=dict(zip(p.datasets, map(Path, snakemake.input.prompts))),
                           template=p.template, max_lengths=list(p.max_lengths))
    costs.to_csv(snakemake.output[0], index=False)
