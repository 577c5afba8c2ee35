import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.tokens.tokenizer import build_tokenizer  # noqa: E402

with logged(snakemake.log[0]) as log:
    source = build_tokenizer(snakemake.wildcards.tokenizer, dict(snakemake.params.spec), Path(snakemake.output[0]))
    log.info("tokenizer %s: %s, vocabulary %d, sha256 %s", source["name"], source["class"], source["vocab_size"], source["sha256"])
