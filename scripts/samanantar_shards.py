import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.samanantar import build_samanantar  # noqa: E402

p = snakemake.params
with logged(snakemake.log[0]) as log:
    quality = build_samanantar(
        source=p.source,
        lang=p.lang,
        path=Path(p.root) if p.root else None,
        out_dir=Path(snakemake.output.shards),
        quality_path=Path(snakemake.output.quality),
        rows_per_shard=p.rows_per_shard,
        validation_fraction=p.validation_fraction,
        test_fraction=p.test_fraction,
        max_length_ratio=p.max_length_ratio,
        on_invalid_utf8=p.on_invalid_utf8,
        hub_repo=p.hub["repo"],
        hub_revision=p.hub["revision"],
    )
    log.info("kept %d of %d pairs; dropped %s", quality["rows_kept"], quality["rows_read"], quality["dropped"])
