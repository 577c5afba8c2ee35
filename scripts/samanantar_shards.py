import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.data.samanantar import build_samanantar  # noqa: E402
from telugu_llm.data.shards import keep_pandas_out  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402

p = snakemake.params
if p.settings["source"] != "hub":
    keep_pandas_out()
with logged(snakemake.log[0]) as log:
    quality = build_samanantar(**p.settings, path=Path(p.root) if p.root else None,
                               out_dir=Path(snakemake.output.shards), quality_path=Path(snakemake.output.quality))
    log.info("kept %d of %d pairs; dropped %s", quality["rows_kept"], quality["rows_read"], quality["dropped"])
