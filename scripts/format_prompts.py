import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.loading import load_tokenizer  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.prompts.build import build_prompts  # noqa: E402

i, p, w = snakemake.input, snakemake.params, snakemake.wildcards
with logged(snakemake.log[0]) as log:
    shards = Path(i.shards)
    splits = {"train": Path(i.subset) if "subset" in i.keys() else shards / "train",
              "validation": shards / "validation", "test": shards / "test"}
    tokenizer = load_tokenizer(i.tokenizer) if "tokenizer" in i.keys() else None
    counts = build_prompts(dataset=w.dataset, template=p.template, split_dirs=splits, out_dir=Path(snakemake.output[0]),
                           tokenizer=tokenizer, **dict(p.samanantar))
    log.info("examples per split: %s", counts)
