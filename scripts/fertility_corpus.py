import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.tokens.corpora import fetch_hub_corpus  # noqa: E402

p = snakemake.params
with logged(snakemake.log[0]) as log:
    source = fetch_hub_corpus(p.corpus["index"], p.corpus["spec"], Path(snakemake.output[0]))
    log.info("corpus %s: %d pairs %s; ids on one side only: %s", source["name"], source["pairs"],
             source["pairs_per_split"], source["unmatched_ids"])
