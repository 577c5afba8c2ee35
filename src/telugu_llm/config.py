"""The workflow's config: checked before any job starts (one message naming the key or the path),
and completed with the defaults of config/schema.yaml (the one place that states a default)."""

from __future__ import annotations

import copy
import functools
import math
import re
from pathlib import Path

import jsonschema
import yaml

from .errors import InputError, readable
from .extended import add_extended_models, check_adapt, check_vocab, extensions
from .languages import SAMANANTAR_LANGUAGES
from .phrasing import check_evaluation, check_instructions

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"
EMBEDDED_SAMANANTAR_LANGS = ("te",)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


@functools.cache
def load_schema(schema_path: Path = SCHEMA_PATH) -> dict:
    return read_yaml(schema_path)


def read_yaml(path: Path):
    """A YAML file, safely, with libyaml's parser where PyYAML was built with it: the schema is read
    at every start of the workflow, and the pure-Python parser takes a few tenths of a second over it."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class _ConfigLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """YAML as Snakemake reads a config file, refusing what YAML 1.1 reads other than it looks: an
    integer written with leading zeros (`0042`) is octal there (34)."""


def _strict_int(loader, node):
    text = node.value.replace("_", "")
    if re.fullmatch(r"[-+]?0[0-9]+", text):
        raise InputError(f"{node.start_mark.name}, line {node.start_mark.line + 1}: {node.value} is read by YAML "
                         f"as the octal number {yaml.safe_load(node.value)}, not {int(text)}; write it without the "
                         "leading zeros (or quote it, if it is text)")
    return loader.construct_yaml_int(node)


_ConfigLoader.add_constructor("tag:yaml.org,2002:int", _strict_int)


def read_config_file(path: Path) -> dict:
    """A user's config file (--configfile), read as Snakemake reads it, with the checks of _ConfigLoader."""
    with open(path, encoding="utf-8") as handle:
        try:
            loaded = yaml.load(handle, Loader=_ConfigLoader)
        except yaml.YAMLError as exc:
            raise InputError(f"config file {path}: not valid YAML: {exc}") from None
    return loaded if isinstance(loaded, dict) else {}


def check_given_entries(config: dict, given: list[tuple[str, dict]]) -> None:
    """Entries a user wrote that would do nothing, named with the file (or --config) that sets them:
    a vocab.extend entry for a model that train.models does not select. Only what the user gave is
    checked: the embedded default's entries are inherited by every layered config. Also an
    adapt.enabled: true with no extended model trained (the stage would adapt nothing)."""
    for where, values in given:
        adapt = values.get("adapt") or {}
        if isinstance(adapt, dict) and adapt.get("enabled") is True and not extensions(config):
            raise InputError(f"config key adapt.enabled ({where}): true, but no extended model is trained (vocab.extend "
                             "of a model in train.models), so the stage adapts nothing; extend a model or remove it")
    selected = config["train"]["models"]
    if selected is None:
        return
    for where, values in given:
        extend = (values.get("vocab") or {}).get("extend") or {}
        for model in extend if isinstance(extend, dict) else ():
            if model not in selected:
                raise InputError(f"config key vocab.extend.{model} ({where}): {model} is not among train.models "
                                 f"{selected}, so the entry does nothing; add the model to train.models or remove it")


def _filling_validator(schema: dict):
    """A validator that also sets each missing property to its schema default (deep-copied) before
    checking it, through $ref, items and additionalProperties alike."""
    base = jsonschema.Draft202012Validator
    check_properties = base.VALIDATORS["properties"]

    def properties(validator, props, instance, subschema):
        if isinstance(instance, dict):
            for name, prop in props.items():
                if "default" in prop and name not in instance:
                    instance[name] = copy.deepcopy(prop["default"])
        yield from check_properties(validator, props, instance, subschema)

    return jsonschema.validators.extend(base, {"properties": properties})(schema)


def _numbers(value, path):
    """(dotted path, value) of every float in a config."""
    if isinstance(value, float):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, [*path, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _numbers(item, [*path, i])


def check_schema(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Validate against the JSON Schema and fill in its defaults, in place; the first error (in
    document order) names its dotted key."""
    for path, value in _numbers(config, []):  # JSON Schema accepts NaN and infinity as numbers
        if not math.isfinite(value):
            raise InputError(f"config key {_key(path)}: {value} is not a finite number")
    validator = _filling_validator(load_schema(schema_path))
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    error = errors[0]
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        raise InputError(f"config key {_key([*error.absolute_path, unknown[0]])}: unknown key (allowed here: {', '.join(allowed)})")
    if error.schema.get("pattern") == load_schema(schema_path)["$defs"]["name"]["pattern"]:
        raise InputError(f"config key {_key(error.absolute_path)}: {error.instance!r} is not a usable name (it becomes a "
                         "folder and a wildcard): a letter, digit or underscore, then up to 63 letters, digits, "
                         "underscores or dots")
    raise InputError(f"config key {_key(error.absolute_path)}: {error.message}")


def names_pattern(names) -> str:
    """A regular expression (a wildcard constraint) that matches exactly the given names, each
    escaped (a dot is a dot); with none, one that matches nothing."""
    return "|".join(re.escape(name) for name in sorted(names)) if names else "(?!)"


def shipped_recipe(name: str) -> dict:
    """A recipe of the embedded default's config (`study` or `corrected`), named, as a run takes it;
    for callers outside the workflow (tests, benchmarks)."""
    recipes = read_yaml(SCHEMA_PATH.parent / "config.yaml")["recipes"]
    return {"name": name, **recipes[name]}


def with_defaults(value: dict, definition: str, schema_path: Path = SCHEMA_PATH) -> dict:
    """A copy of `value` completed with the defaults of one part of the schema: a top-level key
    ("samanantar") or a definition ("$defs/model"); for callers outside the workflow (tests, benchmarks)."""
    schema = load_schema(schema_path)
    part = schema["$defs"][definition.split("/", 1)[1]] if definition.startswith("$defs/") \
        else schema["properties"][definition]
    filled = copy.deepcopy(value)
    errors = list(_filling_validator({**part, "$defs": schema["$defs"]}).iter_errors(filled))
    if errors:
        raise InputError(f"config key {definition}.{_key(errors[0].absolute_path)}: {errors[0].message}")
    return filled


def check_config(config: dict, schema_path: Path = SCHEMA_PATH) -> None:
    """Everything that can be checked before any job: the schema (which fills in the defaults, in
    place), then the rules across keys and the files the config names."""
    models = config["models"] if "models" in config else {}
    for name in [n for n, spec in models.items() if "extends" in spec]:
        del models[name]  # a config checked before: its extended models are made again below
    check_schema(config, schema_path)
    check_inputs(config)
    add_extended_models(config)


def check_inputs(config: dict) -> None:
    """Cross-key rules and the existence of every input file the config names (of a config that the
    schema has checked and completed)."""
    sam = config["samanantar"]
    lang = sam["lang"]
    if lang not in SAMANANTAR_LANGUAGES:  # also in the schema; repeated for callers without it
        raise InputError(f"config key samanantar.lang: unknown language {lang!r}; Samanantar has {sorted(SAMANANTAR_LANGUAGES)}")
    for name in ("samanantar", "guanaco"):
        fractions = config[name]["validation_fraction"] + config[name]["test_fraction"]
        if fractions >= 1:
            raise InputError(f"config keys {name}.validation_fraction + {name}.test_fraction = {fractions:g}: must be below 1")
    if sam["source"] == "embedded" and lang not in EMBEDDED_SAMANANTAR_LANGS:
        raise InputError(
            f"config key samanantar.lang: the embedded sample has only en-te, not en-{lang}; "
            "set samanantar.source to local (with samanantar.path) or hub"
        )
    if sam["source"] == "local":
        root = local_path(config, "samanantar", "directory")
        for f in (root / f"en-{lang}" / "train.en", root / f"en-{lang}" / f"train.{lang}"):
            if not f.is_file():
                raise InputError(f"config key samanantar.path: {f} does not exist (release layout en-{lang}/train.en, en-{lang}/train.{lang})")
            readable("samanantar.path", f)
    check_tokenizers_and_models(config)
    check_training(config)
    if "samanantar" in config["prompts"]["datasets"]:
        check_instructions(config["prompts"]["instructions"], lang)
    check_evaluation(config["evaluation"], lang)
    check_vocab(config)
    check_adapt(config)
    if config["guanaco"]["source"] == "local":
        path = local_path(config, "guanaco", "file")
        if path.suffix not in (".jsonl", ".json", ".parquet"):
            raise InputError(f"config key guanaco.path: {path}: expected a .jsonl or .parquet file")


def local_path(config: dict, dataset: str, kind: str) -> Path:
    """<dataset>.path of a local source: given, and an existing directory or file."""
    if not config[dataset]["path"]:
        raise InputError(f"config key {dataset}.path: required when {dataset}.source is 'local'")
    path = Path(config[dataset]["path"])
    if not (path.is_dir() if kind == "directory" else path.is_file()):
        raise InputError(f"config key {dataset}.path: {kind} {path} does not exist")
    if kind == "file":
        readable(f"{dataset}.path", path)
    return path


_SOURCE_KEYS = {"package": ("package", "file"), "hub": ("repo", "file"), "local": ("path",)}


def check_tokenizers_and_models(config: dict) -> None:
    tokenizers = config["tokenizers"]
    for name, spec in tokenizers.items():
        for key in _SOURCE_KEYS[spec["source"]]:
            if not spec.get(key):
                raise InputError(f"config key tokenizers.{name}.{key}: required when the source is {spec['source']!r}")
        if spec["source"] == "local" and not Path(spec["path"]).is_file():
            raise InputError(f"config key tokenizers.{name}.path: file {spec['path']} does not exist")

    def known(key: str, name: str) -> None:
        if name not in tokenizers:
            raise InputError(f"config key {key}: unknown tokenizer {name!r} (configured: {', '.join(sorted(tokenizers)) or 'none'})")

    for model, spec in config["models"].items():
        known(f"models.{model}.tokenizer", spec["tokenizer"])
    for i, model in enumerate(config["train"]["models"] or []):
        if model not in config["models"]:
            raise InputError(f"config key train.models[{i}]: unknown model {model!r} "
                             f"(configured: {', '.join(sorted(config['models'])) or 'none'})")
    for model in active_models(config):
        if not config["models"][model]["weights"]:
            raise InputError(f"config key models.{model}.weights: required for a model that is trained")
    fertility = config["fertility"]
    for i, name in enumerate(fertility["tokenizers"]):
        known(f"fertility.tokenizers[{i}]", name)
    for i, cost in enumerate(fertility["costs"]):
        known(f"fertility.costs[{i}].tokenizer", cost["tokenizer"])
    for i, corpus in enumerate(fertility["corpora"]):
        need = ("src", "tgt") if corpus["source"] == "file" else ("repo", "src_config", "tgt_config")
        for key in need:
            if not corpus.get(key):
                raise InputError(f"config key fertility.corpora[{i}].{key}: required when the source is {corpus['source']!r}")
        if corpus["source"] == "file":
            for side in ("src", "tgt"):
                if not Path(corpus[side]).is_file():
                    raise InputError(f"config key fertility.corpora[{i}].{side}: file {corpus[side]} does not exist")
                readable(f"fertility.corpora[{i}].{side}", Path(corpus[side]))
    names = [c["name"] for c in fertility["corpora"]]
    if len(set(names)) != len(names) or "samanantar-test" in names:
        raise InputError("config key fertility.corpora: names must be unique and not 'samanantar-test'")
    subset = config["prompts"]["samanantar_train_subset"]
    if subset is not None and subset not in config["samanantar"]["subsets"]:
        raise InputError(f"config key prompts.samanantar_train_subset: {subset} is not one of samanantar.subsets "
                         f"{config['samanantar']['subsets']}")


# The recipe of an extra run that names none (models.<name>.extra_runs): fixed, not the first of
# train.recipes, so that reordering that list never moves an extra run.
EXTRA_RUN_RECIPE = "corrected"


def check_training(config: dict) -> None:
    """The dimensions of the training runs: recipes that exist and whose choices the trainer can carry
    out together (packed rows are max_length long: a model's max_length, which the schema always
    fills in), subsets that are built, seeds (the schema refuses an empty list)."""
    recipes = config["recipes"]
    choices = list(load_schema()["$defs"]["recipe"]["properties"])
    for name, recipe in recipes.items():
        missing = [c for c in choices if c not in recipe]
        if missing:
            raise InputError(f"config key recipes.{name}: a recipe names every choice; missing {', '.join(missing)}")
    for name in config["train"]["recipes"]:
        if name not in recipes:
            raise InputError(f"config key train.recipes: unknown recipe {name!r}; defined under recipes: {sorted(recipes)}")
    if EXTRA_RUN_RECIPE not in recipes and any(
            "recipe" not in run for model in active_models(config) for run in config["models"][model]["extra_runs"]):
        raise InputError(f"config key recipes: an extra run without a recipe trains with {EXTRA_RUN_RECIPE!r}, which is "
                         "not defined; name the recipe of each extra run")
    for model, spec in config["models"].items():
        for name in spec["recipe_overrides"]:
            if name not in recipes:
                raise InputError(f"config key models.{model}.recipe_overrides.{name}: no recipe {name!r} under recipes "
                                 f"({sorted(recipes)})")
    for model in active_models(config):
        spec = config["models"][model]
        used = dict.fromkeys([*config["train"]["recipes"],
                              *(run["recipe"] if "recipe" in run else EXTRA_RUN_RECIPE for run in spec["extra_runs"])])
        for name in used:
            if name not in recipes:
                continue  # an extra run's unknown recipe: named with its key below
            overrides = spec["recipe_overrides"].get(name, {})
            recipe = {**recipes[name], **overrides}
            where = f"recipes.{name}" + (f" (with models.{model}.recipe_overrides.{name})" if overrides else "")
            if recipe["long_examples"] == "keep_eos" and not recipe["append_eos"]:
                raise InputError(f"config key {where}.long_examples: keep_eos keeps an EOS that append_eos: false "
                                 "never adds; use drop or truncate")
            if recipe["packing"] and recipe["long_examples"] == "keep_eos":
                raise InputError(f"config key {where}.long_examples: with packing, rows are cut at max_length whatever "
                                 "an example's length; use truncate (what the packer does) or drop")
    for model in active_models(config):
        unformatted = [d for d in config["models"][model]["datasets"] or [] if d not in config["prompts"]["datasets"]]
        if unformatted:
            raise InputError(f"config key models.{model}.datasets: {unformatted} not formatted (prompts.datasets: "
                             f"{config['prompts']['datasets']})")
        for i, run in enumerate(config["models"][model]["extra_runs"]):
            key = f"config key models.{model}.extra_runs[{i}]"
            if run["dataset"] not in config["prompts"]["datasets"]:
                raise InputError(f"{key}.dataset: {run['dataset']!r} is not formatted (prompts.datasets: "
                                 f"{config['prompts']['datasets']})")
            if "recipe" in run and run["recipe"] not in recipes:
                raise InputError(f"{key}.recipe: unknown recipe {run['recipe']!r}; defined under recipes: {sorted(recipes)}")
            if "subset" in run and (run["dataset"] != "samanantar" or run["subset"] not in config["samanantar"]["subsets"]):
                raise InputError(f"{key}.subset: {run['subset']} is not a built Samanantar subset (samanantar.subsets "
                                 f"{config['samanantar']['subsets']}; Guanaco runs use all of it)")
    subsets = config["train"]["subsets"]
    if subsets is not None:
        if "samanantar" not in config["prompts"]["datasets"]:
            raise InputError("config key train.subsets: Samanantar is not trained on (prompts.datasets); remove train.subsets")
        missing = sorted(set(subsets) - set(config["samanantar"]["subsets"]))
        if missing:
            raise InputError(f"config key train.subsets: {missing} not built; each must be one of samanantar.subsets "
                             f"{config['samanantar']['subsets']}")


def active_models(config: dict) -> list[str]:
    """The models this run formats data for, measures and trains: the selected ones (train.models,
    all when null), and each selected model's extended twin (`add_extended_models`)."""
    selected = config["train"]["models"]
    chosen = list(selected if selected is not None else config["models"])
    twins = [name for name, spec in config["models"].items() if spec.get("extends") in chosen]
    return sorted(set(chosen) | set(twins))
