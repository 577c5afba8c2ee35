import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.gpus import gpu_slots, gpus_needed  # noqa: E402
from telugu_llm.adapt.replay import english_sentences, mix  # noqa: E402
from telugu_llm.adapt.run import AdaptSettings, adapt, baseline_rows  # noqa: E402
from telugu_llm.loading import load_tokenizer  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.vocab.text import gather  # noqa: E402

i, p, w = snakemake.input, snakemake.params, snakemake.wildcards
with logged(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    text = gather(sources=p.sources, samanantar_dir=Path(i.shards), subset_dir=None, guanaco_dir=i.get("guanaco"),
                  text_path=i.get("text"), lang=p.lang, max_sentences=p.max_sentences, key="adapt.text_path")
    log.info("adapting %s on %d sentences (sha256 %s): %s", w.model, len(text.sentences), text.sha256, text.counts)
    base_tokenizer = Path(i.get("base_tokenizer") or i.tokenizer)  # the base's own (the fair baseline's)
    sentences, replay = text.sentences, {"share_asked": 0}
    if p.replay["share"]:
        counts = {}
        english = english_sentences(sources=p.replay["sources"], samanantar_dir=Path(i.shards),
                                    guanaco_dir=i.get("guanaco"), text_path=i.get("replay_text"), counts=counts)
        mixture = mix(text.sentences, english, p.replay["share"], load_tokenizer(str(base_tokenizer)))
        sentences, replay = mixture.sentences, {**mixture.facts, "sources": counts}
        log.info("English replay: %d English sentences, %d tokens, %.1f%% of the base's tokens (asked %.0f%%); "
                 "read: %s", replay["sentences"], replay["tokens"], 100 * replay["share"], 100 * replay["share_asked"],
                 counts)
        if "short" in replay:
            log.warning("English replay short: %s", replay["short"])
    settings = AdaptSettings(**p.settings)
    rows = baseline_rows(base_tokenizer, sentences, settings) if p.budget == "tokens" else None
    if rows is not None:
        log.info("budget tokens: %d rows of %d tokens, as the base's adaptation on the same text", rows,
                 settings.seq_len)
    with gpu_slots(gpus_needed(p.settings["device"], 1)):  # a free GPU of this host outside Slurm
        adapt(name=w.model, model_dir=Path(i.model), tokenizer_dir=Path(i.tokenizer), sentences=sentences,
              init=None if w.init == "none" else w.init, settings=settings, rows=rows,
              out_dir=Path(snakemake.output.model), facts_path=Path(snakemake.output.facts),
              text_facts={"sha256": text.sha256, "sources": text.counts, "replay": replay})
