import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
import pandas as pd  # noqa: E402

from telugu_llm.atomic import write_json  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.tokens.corpora import corpus_files  # noqa: E402
from telugu_llm.tokens.fertility import analyse_tokenizer, read_parallel, samanantar_test  # noqa: E402

p = snakemake.params
with logged(snakemake.log[0]) as log:
    src, tgt = samanantar_test(Path(snakemake.input.shards))
    corpora = [{"name": "samanantar-test", "lang": p.lang, "src": src, "tgt": tgt}]
    for corpus in p.corpora:
        c_src, c_tgt = read_parallel(corpus["name"], *corpus_files(corpus, Path(p.corpus_dir) / corpus["name"]))
        corpora.append({"name": corpus["name"], "lang": corpus["lang"], "src": c_src, "tgt": c_tgt})
    rows, sentences, example = analyse_tokenizer(name=snakemake.wildcards.tokenizer, resource_dir=snakemake.input.tokenizer,
                                                 corpora=corpora, batch_size=p.batch_size, example=(src[0], tgt[0]))
    pd.DataFrame(rows).to_csv(snakemake.output.summary, index=False)
    sentences.to_parquet(snakemake.output.sentences, index=False)
    write_json(Path(snakemake.output.example), example)
    log.info("analysed %d corpora", len(corpora))
