import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.atomic import atomic_directory, write_json  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.vocab.extend import tokenizer_kind  # noqa: E402
from telugu_llm.vocab.learn import learn_all  # noqa: E402
from telugu_llm.vocab.text import gather  # noqa: E402

p, i = snakemake.params, snakemake.input
with logged(snakemake.log[0]) as log:
    text = gather(sources=p.sources, samanantar_dir=Path(i.shards), subset_dir=i.get("subset"),
                  guanaco_dir=i.get("guanaco"), text_path=i.get("text"), lang=p.lang, max_sentences=p.max_sentences)
    log.info("learning from %d sentences (sha256 %s): %s", len(text.sentences), text.sha256, text.counts)
    bases = {}
    for base, key in sorted(p.bases.items()):
        base_json = json.loads((Path(i.get(f"base_{base}")) / "tokenizer.json").read_text(encoding="utf-8"))
        bases[base] = (base_json, tokenizer_kind(base_json, key))
    with atomic_directory(Path(snakemake.output[0])) as tmp:
        chosen = learn_all(bases, text.sentences, p.pieces, tmp, key=p.key, threads=snakemake.threads,
                           text_facts={"sentences": len(text.sentences), "sha256": text.sha256, "sources": text.counts})
        write_json(tmp / "learners.json", chosen)
    log.info("learned %d pieces once per learner: %s", p.pieces, chosen)
