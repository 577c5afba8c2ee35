"""Extended models (vocab.extend): each a model of its own, `<model>_<lang><pieces>`, with the
model's settings and the extended tokenizer `<tokenizer>_<lang><pieces>`, so that every rule treats it
as a model. Derived from a config the schema has completed; checked by `config.check_vocab`."""

from __future__ import annotations

import copy


# Tokenizer classes whose models are not BPE (T5's is a Unigram): the vocabulary stage cannot extend them.
UNEXTENDABLE_CLASSES = ("T5Tokenizer",)


def extensions(config: dict) -> dict[str, dict]:
    """Each extended model of vocab.extend whose model is trained (train.models), by its name
    (<model>_<lang><pieces>): the model it extends, its extended tokenizer (<tokenizer>_<lang><pieces>),
    the base tokenizer and the pieces."""
    lang = config["samanantar"]["lang"]
    selected = config["train"]["models"]
    out = {}
    for model, spec in config["vocab"]["extend"].items():
        if model not in config["models"] or (selected is not None and model not in selected):
            continue
        tokenizer = config["models"][model]["tokenizer"]
        out[f"{model}_{lang}{spec['pieces']}"] = {"extends": model, "tokenizer": f"{tokenizer}_{lang}{spec['pieces']}",
                                                  "base_tokenizer": tokenizer, "pieces": spec["pieces"]}
    return out


def extended_tokenizers(config: dict) -> dict[str, dict]:
    """Each extended tokenizer, by name: {base_tokenizer, pieces, model (whose vocab.extend entry)}."""
    return {e["tokenizer"]: {"base_tokenizer": e["base_tokenizer"], "pieces": e["pieces"], "model": e["extends"]}
            for e in extensions(config).values()}


def add_extended_models(config: dict) -> None:
    """Each extended model as a model of its own (a copy of the one it extends, with the extended
    tokenizer, no extra runs, `extends` naming its base), so that every rule treats it as a model."""
    for name, ext in extensions(config).items():
        if name in config["models"]:
            continue  # already added (a config checked twice)
        spec = copy.deepcopy(config["models"][ext["extends"]])
        spec.update(tokenizer=ext["tokenizer"], extra_runs=[], extends=ext["extends"])
        config["models"][name] = spec
