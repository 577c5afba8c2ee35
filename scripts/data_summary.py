import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.atomic import write_json  # noqa: E402
from telugu_llm.data.subsets import META_NAME  # noqa: E402
from telugu_llm.data.summary import summarize_data  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.report.figures import data_lengths_figure  # noqa: E402

i = snakemake.input
with logged(snakemake.log[0]):
    summary, samanantar, guanaco = summarize_data(
        samanantar_quality=Path(i.samanantar_quality),
        samanantar_shards=Path(i.samanantar_shards),
        subset_metas=[Path(d) / META_NAME for d in i.subsets],
        guanaco_quality=Path(i.guanaco_quality),
        guanaco_shards=Path(i.guanaco_shards),
        examples=snakemake.params.examples,
    )
    data_lengths_figure(samanantar, guanaco, summary["samanantar"]["language"], Path(snakemake.output.figure))
    write_json(Path(snakemake.output.summary), summary)
