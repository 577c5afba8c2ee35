# Fine-tuned LLMs in Telugu: a reproducible redo of Nelavala & Bhuiyan's study.
# Table of contents; the rules live in rules/, the logic in src/telugu_llm/.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The embedded default, found beside this Snakefile whatever the working directory (--directory).
configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


include: "rules/common.smk"


# NAME: config/schema.yaml's $defs/name (a model, tokenizer, recipe or corpus name), never . or ..
wildcard_constraints:
    size=r"[1-9][0-9]*",
    tokenizer=NAME,
    template_key=rf"[a-z0-9_]+(-{NAME})?",
    dataset=r"samanantar|guanaco",
    model=NAME,
    recipe=NAME,
    subset=r"all|[1-9][0-9]*",
    seed=r"[0-9]+",
    adapter=rf"base|(samanantar|guanaco)/{NAME}/(all|[1-9][0-9]*)/seed[0-9]+",
    corpus=NAME,
    init=r"none|mean|overlap",


include: "rules/data.smk"
include: "rules/tokens.smk"
include: "rules/vocab.smk"
include: "rules/adapt.smk"
include: "rules/prompts.smk"
include: "rules/train.smk"
include: "rules/plan.smk"
include: "rules/evaluation.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        "results/report.html",
