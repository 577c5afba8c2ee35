import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.vocab.extend import build_extended  # noqa: E402
from telugu_llm.vocab.text import gather  # noqa: E402

p = snakemake.params
i = snakemake.input
with logged(snakemake.log[0]) as log:
    text, check_texts, english = gather(sources=p.sources, samanantar_dir=Path(i.shards), subset_dir=i.get("subset"),
                                        guanaco_dir=i.get("guanaco"), text_path=i.get("text"), lang=p.lang,
                                        max_sentences=p.max_sentences)
    log.info("learning from %d sentences (sha256 %s): %s", len(text.sentences), text.sha256, text.counts)
    source = build_extended(name=snakemake.wildcards.tokenizer, base_dir=Path(i.base), sentences=text.sentences,
                            text_facts={"sentences": len(text.sentences), "sha256": text.sha256, "sources": text.counts},
                            pieces=p.pieces, lang=p.lang, check_texts=check_texts, english=english,
                            out_dir=Path(snakemake.output[0]), key=p.key, threads=snakemake.threads)
    ext = source["extension"]
    log.info("%s: %d pieces learned, %d added (ids %d-%d), %d merges; round trip on %d sentences, %d English sentences "
             "unchanged; tokens on the %s sentences %d -> %d", source["name"], ext["learned"], ext["added"],
             ext["first_new_id"], source["vocab_size"] - 1, ext["merges_added"], ext["round_trip_sentences"],
             ext["english_sentences"], p.lang, ext["tokens_base"], ext["tokens_extended"])
