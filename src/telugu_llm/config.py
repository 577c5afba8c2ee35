"""Checking the workflow's config before any job starts: one message naming the key or the path."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from .errors import InputError
from .languages import SAMANANTAR_LANGUAGES

EMBEDDED_SAMANANTAR_LANGS = ("te",)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def check_schema(config: dict, schema_path: Path) -> None:
    """Validate against the JSON Schema; the first error (in document order) names its dotted key."""
    schema = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return
    error = errors[0]
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        raise InputError(f"config key {_key([*error.absolute_path, unknown[0]])}: unknown key (allowed here: {', '.join(allowed)})")
    raise InputError(f"config key {_key(error.absolute_path)}: {error.message}")


def check_inputs(config: dict, workflow_dir: Path) -> None:
    """Cross-key rules and the existence of every input file the config names."""
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
        if not sam.get("path"):
            raise InputError("config key samanantar.path: required when samanantar.source is 'local'")
        root = Path(sam["path"])
        if not root.is_dir():
            raise InputError(f"config key samanantar.path: directory {root} does not exist")
        for f in (root / f"en-{lang}" / "train.en", root / f"en-{lang}" / f"train.{lang}"):
            if not f.is_file():
                raise InputError(f"config key samanantar.path: {f} does not exist (release layout en-{lang}/train.en, en-{lang}/train.{lang})")
    check_tokenizers_and_models(config)
    check_evaluation(config.get("evaluation") or {}, lang)
    gua = config["guanaco"]
    if gua["source"] == "local":
        if not gua.get("path"):
            raise InputError("config key guanaco.path: required when guanaco.source is 'local'")
        path = Path(gua["path"])
        if not path.is_file():
            raise InputError(f"config key guanaco.path: file {path} does not exist")
        if path.suffix not in (".jsonl", ".json", ".parquet"):
            raise InputError(f"config key guanaco.path: {path}: expected a .jsonl or .parquet file")


_SOURCE_KEYS = {"package": ("package", "file"), "hub": ("repo", "file"), "local": ("path",)}


def check_tokenizers_and_models(config: dict) -> None:
    tokenizers = config.get("tokenizers", {})
    for name, spec in tokenizers.items():
        for key in _SOURCE_KEYS[spec["source"]]:
            if not spec.get(key):
                raise InputError(f"config key tokenizers.{name}.{key}: required when the source is {spec['source']!r}")
        if spec["source"] == "local" and not Path(spec["path"]).is_file():
            raise InputError(f"config key tokenizers.{name}.path: file {spec['path']} does not exist")

    def known(key: str, name: str) -> None:
        if name not in tokenizers:
            raise InputError(f"config key {key}: unknown tokenizer {name!r} (configured: {', '.join(sorted(tokenizers)) or 'none'})")

    for model, spec in config.get("models", {}).items():
        known(f"models.{model}.tokenizer", spec["tokenizer"])
    for i, model in enumerate(config.get("train", {}).get("models") or []):
        if model not in config.get("models", {}):
            raise InputError(f"config key train.models[{i}]: unknown model {model!r} "
                             f"(configured: {', '.join(sorted(config.get('models', {}))) or 'none'})")
    for model in active_models(config):
        if not config["models"][model].get("weights"):
            raise InputError(f"config key models.{model}.weights: required for a model that is trained")
    fertility = config.get("fertility", {})
    for i, name in enumerate(fertility.get("tokenizers", [])):
        known(f"fertility.tokenizers[{i}]", name)
    for i, cost in enumerate(fertility.get("costs", [])):
        known(f"fertility.costs[{i}].tokenizer", cost["tokenizer"])
    for i, corpus in enumerate(fertility.get("corpora", [])):
        for side in ("src", "tgt"):
            if not Path(corpus[side]).is_file():
                raise InputError(f"config key fertility.corpora[{i}].{side}: file {corpus[side]} does not exist")
    names = [c["name"] for c in fertility.get("corpora", [])]
    if len(set(names)) != len(names) or "samanantar-test" in names:
        raise InputError("config key fertility.corpora: names must be unique and not 'samanantar-test'")
    subset = config.get("prompts", {}).get("samanantar_train_subset")
    if subset is not None and subset not in config["samanantar"]["subsets"]:
        raise InputError(f"config key prompts.samanantar_train_subset: {subset} is not one of samanantar.subsets "
                         f"{config['samanantar']['subsets']}")


RESERVED_SETS = ("embedded", "samanantar_test", "study_probes")


def check_evaluation(spec: dict, lang: str) -> None:
    from .evalsets import FIELDS, PLACEHOLDERS

    if spec.get("sets_path") and not Path(spec["sets_path"]).is_dir():
        raise InputError(f"config key evaluation.sets_path: directory {spec['sets_path']} does not exist")
    names = []
    for i, hub in enumerate(spec.get("hub") or []):
        key = f"evaluation.hub[{i}]"
        if hub["name"] in RESERVED_SETS or hub["name"] in names:
            raise InputError(f"config key {key}.name: {hub['name']!r} is taken (reserved: {', '.join(RESERVED_SETS)}; "
                             "names must be unique)")
        names.append(hub["name"])
        if hub["lang"] not in ("en", lang):
            raise InputError(f"config key {key}.lang: {hub['lang']!r} is neither en nor samanantar.lang ({lang})")
        need = FIELDS[hub["task"]]
        missing = [f for f in need if f not in hub["fields"]]
        extra = [f for f in hub["fields"] if f not in need]
        if missing or extra:
            raise InputError(f"config key {key}.fields: task {hub['task']} needs exactly {', '.join(need)}"
                             + (f"; missing {', '.join(missing)}" if missing else "") + (f"; unknown {', '.join(extra)}" if extra else ""))
        if hub["task"] == "translation" and hub.get("source_lang") not in ("en", lang):
            raise InputError(f"config key {key}.source_lang: a translation set needs en or {lang} as its source")
    for task, phrasings in (spec.get("instructions") or {}).items():
        placeholders = PLACEHOLDERS[task]
        if "en" not in phrasings:
            raise InputError(f"config key evaluation.instructions.{task}.en: an English phrasing is required (the fallback)")
        for code, text in phrasings.items():
            try:
                text.format(**{p: "" for p in placeholders})
            except (KeyError, IndexError, ValueError) as exc:
                raise InputError(f"config key evaluation.instructions.{task}.{code}: bad placeholder ({exc}); "
                                 f"use {', '.join('{' + p + '}' for p in placeholders)}") from None


def active_models(config: dict) -> list[str]:
    """The models this run formats data for, measures and trains."""
    selected = (config.get("train") or {}).get("models")
    return sorted(selected if selected is not None else config.get("models", {}))
