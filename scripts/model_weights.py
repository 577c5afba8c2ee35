import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.loading import load_tokenizer  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.train.weights import build_model  # noqa: E402

with logged(snakemake.log[0]) as log:
    spec = dict(snakemake.params.spec)
    tokenizer = load_tokenizer(snakemake.input.tokenizer) if spec["source"] == "random" else None
    meta = build_model(snakemake.wildcards.model, spec, Path(snakemake.output[0]), tokenizer=tokenizer)
    log.info("model %s: %s, %d parameters", meta["name"], meta["architecture"], meta["parameters"])
