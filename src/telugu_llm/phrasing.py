"""The config's phrasings and evaluation settings, checked: the instruction phrasings of the
prompts, the evaluation's token budget, its sets and its phrasings (one message naming the key).
`config.check_config` calls these; the prompts and evaluation stages call the ones they rely on."""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError
from .languages import LANGUAGE_NAMES
from .tasks import FIELDS, PLACEHOLDERS


def check_instructions(instructions: list[dict], lang: str) -> None:
    """prompts.instructions: a language with names for English and `lang`, and the placeholders."""
    if not instructions:
        raise InputError("config key prompts.instructions: at least one instruction phrasing is needed")
    for i, ins in enumerate(instructions):
        key = f"config key prompts.instructions[{i}]"
        if ins["lang"] not in LANGUAGE_NAMES:
            raise InputError(f"{key}.lang: no language names for {ins['lang']!r} (have {', '.join(LANGUAGE_NAMES)})")
        for code in ("en", lang):
            if code not in LANGUAGE_NAMES[ins["lang"]]:
                raise InputError(f"{key}.lang: no {ins['lang']} name for language {code!r}")
        try:
            ins["text"].format(source="", target="", sentence="")
        except (KeyError, IndexError, ValueError) as exc:
            raise InputError(f"{key}.text: bad placeholder ({exc}); use {{source}}, {{target}} and {{sentence}}") from None
        if "{sentence}" not in ins["text"]:
            raise InputError(f"{key}.text: must contain {{sentence}}")


def check_budget(max_prompt_tokens: int, max_new_tokens: dict[str, int], batch_tokens: int) -> None:
    """The longest prompt with the longest answer must fit one evaluation batch
    (evaluation.generation.token_batches)."""
    task, longest = max(max_new_tokens.items(), key=lambda kv: kv[1])
    if max_prompt_tokens + longest > batch_tokens:
        raise InputError(f"config key evaluation.batch_tokens: {batch_tokens} is less than one row at the limits, "
                         f"evaluation.max_prompt_tokens ({max_prompt_tokens}) + evaluation.max_new_tokens.{task} "
                         f"({longest}) = {max_prompt_tokens + longest}")


def check_positions(max_prompt_tokens: int, max_new_tokens: dict[str, int], model_dir: Path, model_name: str) -> None:
    """The longest prompt with the longest answer must fit the model's positions (its config.json's
    max_position_embeddings, where it states one): past them a model generates nonsense or fails."""
    config = Path(model_dir) / "config.json"
    if not config.is_file():
        return
    settings = json.loads(config.read_text(encoding="utf-8"))
    positions = settings.get("max_position_embeddings") or settings.get("text_config", {}).get("max_position_embeddings")
    task, longest = max(max_new_tokens.items(), key=lambda kv: kv[1])
    if positions and max_prompt_tokens + longest > positions:
        raise InputError(f"config key evaluation.max_new_tokens.{task}: evaluation.max_prompt_tokens ({max_prompt_tokens}) + "
                         f"{longest} = {max_prompt_tokens + longest} tokens, more than the {positions} positions of "
                         f"{model_name}")


RESERVED_SETS = ("embedded", "samanantar_test", "study_probes")


def check_evaluation(spec: dict, lang: str) -> None:
    check_budget(spec["max_prompt_tokens"], spec["max_new_tokens"], spec["batch_tokens"])
    if spec["sets_path"] and not Path(spec["sets_path"]).is_dir():
        raise InputError(f"config key evaluation.sets_path: directory {spec['sets_path']} does not exist")
    if spec["sets_path"] and spec["embedded"] and not any(Path(spec["sets_path"]).rglob("*.jsonl")):
        raise InputError(f"config key evaluation.sets_path: {spec['sets_path']} has no .jsonl file (the layout of data/eval: "
                         "<lang>/{completion,qa,summarization}.jsonl and translation.jsonl)")
    names = []
    for i, hub in enumerate(spec["hub"]):
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
        if hub["truncate"] and hub["task"] not in ("summarization", "qa"):
            raise InputError(f"config key {key}.truncate: only a summarization or qa set has a document to cut "
                             f"(this one is {hub['task']})")
        if hub["task"] == "translation" and hub["source_lang"] not in ("en", lang):
            raise InputError(f"config key {key}.source_lang: a translation set needs en or {lang} as its source")
    for task, phrasings in spec["instructions"].items():
        placeholders = PLACEHOLDERS[task]
        if "en" not in phrasings:
            raise InputError(f"config key evaluation.instructions.{task}.en: an English phrasing is required (the fallback)")
        for code, text in phrasings.items():
            try:
                text.format(**{p: "" for p in placeholders})
            except (KeyError, IndexError, ValueError) as exc:
                raise InputError(f"config key evaluation.instructions.{task}.{code}: bad placeholder ({exc}); "
                                 f"use {', '.join('{' + p + '}' for p in placeholders)}") from None
