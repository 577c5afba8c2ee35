import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.loading import load_tokenizer  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.train.tokenized import LengthRecipe, tokenize_run  # noqa: E402

i, s, w = snakemake.input, snakemake.params.settings, snakemake.wildcards
with logged(snakemake.log[0]) as log:
    record = tokenize_run(load_tokenizer(i.tokenizer), prompts_dir=Path(i.prompts), out_dir=Path(snakemake.output[0]),
                          template=s["template"], max_length=s["max_length"],
                          recipe=LengthRecipe(name=w.recipe, **s["recipe"]), max_train_examples=s["max_train_examples"],
                          max_eval_examples=s["max_eval_examples"], seed=s["seed"],
                          partners=[load_tokenizer(p) for p in i.partners])
    log.info("tokenized %s on %s (recipe %s, subset %s): %s", w.model, w.dataset, w.recipe, w.subset, record["splits"])
