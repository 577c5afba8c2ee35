# Fine-tuned LLMs in Telugu: a reproducible redo of Nelavala & Bhuiyan's study.
# Table of contents; the rules live in rules/, the logic in src/telugu_llm/.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The embedded default, found beside this Snakefile whatever the working directory (--directory).
configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


include: "rules/common.smk"


wildcard_constraints:
    size=r"[1-9][0-9]*",
    tokenizer=r"[A-Za-z0-9_]+",
    template_key=r"[a-z0-9_]+(-[A-Za-z0-9_]+)?",
    dataset=r"samanantar|guanaco",
    model=r"[A-Za-z0-9_.]+",
    recipe=r"[A-Za-z0-9_]+",
    subset=r"all|[1-9][0-9]*",
    seed=r"[0-9]+",
    adapter=r"base|(samanantar|guanaco)/[A-Za-z0-9_]+/(all|[1-9][0-9]*)/seed[0-9]+",
    corpus=r"[A-Za-z0-9_.-]+",


include: "rules/data.smk"
include: "rules/tokens.smk"
include: "rules/vocab.smk"
include: "rules/prompts.smk"
include: "rules/train.smk"
include: "rules/plan.smk"
include: "rules/evaluation.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        "results/report.html",
