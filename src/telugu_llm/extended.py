"""Extended models (vocab.extend): each a model of its own, `<model>_<lang><pieces>`, with the
model's settings and the extended tokenizer `<tokenizer>_<lang><pieces>`, so that every rule treats it
as a model. Derived from a config the schema has completed; checked here (`check_vocab`, `check_adapt`), called by
`config.check_inputs`."""

from __future__ import annotations

import copy
from pathlib import Path

from .errors import InputError, readable


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


def check_text_source(section: dict, key: str) -> None:
    """`<key>.text_path`: given exactly when `<key>.sources` has `file`, and a readable file
    (vocab's and adapt's text)."""
    if "file" in section["sources"]:
        if not section["text_path"]:
            raise InputError(f"config key {key}.text_path: required when {key}.sources has file")
        path = Path(section["text_path"])
        if not path.is_file():
            raise InputError(f"config key {key}.text_path: file {path} does not exist")
        readable(f"{key}.text_path", path)
    elif section["text_path"]:
        raise InputError(f"config key {key}.text_path: set, but {key}.sources has no file: add file or remove it")


def check_adapt(config: dict) -> None:
    """adapt: something to adapt (an extended model that is trained), its text's inputs."""
    adapt = config["adapt"]
    if not adapt["enabled"]:
        if adapt["instruction_tuning"]:
            raise InputError("config key adapt.instruction_tuning: true, but adapt.enabled is false: enable the "
                             "adaptation stage or remove it")
        return
    if not extensions(config):
        return  # nothing to adapt: the default's adapt.enabled, inherited by a config without an extension
    check_text_source(adapt, "adapt")
    if adapt["replay"]["share"]:
        check_text_source(adapt["replay"], "adapt.replay")


def check_vocab(config: dict) -> None:
    """vocab: models that exist, tokenizers the stage can extend, names that are free, the sources'
    inputs (vocab.samanantar_subset built, vocab.text_path readable)."""
    vocab = config["vocab"]
    for model in vocab["extend"]:
        key = f"config key vocab.extend.{model}"
        if model not in config["models"]:
            raise InputError(f"{key}: unknown model {model!r} (configured: {', '.join(sorted(config['models']))})")
        tokenizer = config["models"][model]["tokenizer"]
        if config["tokenizers"][tokenizer].get("class") in UNEXTENDABLE_CLASSES:
            raise InputError(f"{key}: the tokenizer {tokenizer} is a {config['tokenizers'][tokenizer]['class']} "
                             "(a Unigram model); the vocabulary stage extends BPE tokenizers only")
    for name, ext in extensions(config).items():
        for taken, where in ((name, "models"), (ext["tokenizer"], "tokenizers")):
            if taken in config[where]:
                raise InputError(f"config key vocab.extend.{ext['extends']}: the extended {where[:-1]} would be named "
                                 f"{taken!r}, which {where}.{taken} already is; rename that entry")
    # an extended model's runs are some of its model's, so that each has a run to be compared with
    train = config["train"]
    for key, chosen, allowed in (
            ("recipes", vocab["recipes"], train["recipes"]),
            ("subsets", vocab["subsets"], train["subsets"] or [config["prompts"]["samanantar_train_subset"]]),
            ("seeds", vocab["seeds"], train["seeds"])):
        if chosen is None or (key == "seeds" and allowed is None):
            continue
        extra = [value for value in chosen if value not in allowed]
        if extra:
            raise InputError(f"config key vocab.{key}: {extra} not among the runs of the models it extends "
                             f"(train.{key if key != 'subsets' else 'subsets / prompts.samanantar_train_subset'}: {allowed})")
    if vocab["seeds"] is not None and train["seeds"] is None:
        for model in vocab["extend"]:
            seed = config["models"][model]["training"]["seed"]
            if vocab["seeds"] != [seed]:
                raise InputError(f"config key vocab.seeds: {vocab['seeds']} not among the runs of {model} (its one seed: "
                                 f"{seed}; set train.seeds)")
    subset = vocab["samanantar_subset"]
    if subset is not None and subset not in config["samanantar"]["subsets"]:
        raise InputError(f"config key vocab.samanantar_subset: {subset} is not one of samanantar.subsets "
                         f"{config['samanantar']['subsets']}")
    check_text_source(vocab, "vocab")
