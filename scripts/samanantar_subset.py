import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.data.subsets import build_subset  # noqa: E402
from telugu_llm.data.shards import keep_pandas_out  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402

keep_pandas_out()
with logged(snakemake.log[0]) as log:
    meta = build_subset(
        train_dir=Path(snakemake.input.shards) / "train",
        out_dir=Path(snakemake.output.subset),
        size=snakemake.params.size,
        seed=snakemake.params.seed,
        rows_per_shard=snakemake.params.rows_per_shard,
    )
    log.info("subset %s", meta)
