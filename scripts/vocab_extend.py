import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.vocab.extend import build_extended  # noqa: E402
from telugu_llm.vocab.text import check_sources  # noqa: E402

p = snakemake.params
i = snakemake.input
with logged(snakemake.log[0]) as log:
    texts, english = check_sources(sources=p.sources, samanantar_dir=Path(i.shards), guanaco_dir=i.get("guanaco"),
                                   text_path=i.get("text"), lang=p.lang)
    source = build_extended(name=snakemake.wildcards.tokenizer, base_dir=Path(i.base), learned_dir=Path(i.learned),
                            pieces=p.pieces, lang=p.lang, texts=texts, english=english,
                            out_dir=Path(snakemake.output[0]), key=p.key)
    ext = source["extension"]
    log.info("%s: %d pieces (of %s's %d, sha256 %s), %d added (ids %d-%d), %d merges; round trip on %d sentences "
             "(%d left out: the base does not give them back either), %d English sentences unchanged; tokens on "
             "the %s sentences %d -> %d", source["name"], ext["learned"], ext["learned_model"]["learner"],
             ext["learned_model"]["pieces_learned"], ext["learned_model"]["sha256"], ext["added"],
             ext["first_new_id"], source["vocab_size"] - 1, ext["merges_added"], ext["round_trip_sentences"],
             ext["round_trip_left_out_base_cannot_give_back"], ext["english_sentences"], p.lang, ext["tokens_base"],
             ext["tokens_extended"])
