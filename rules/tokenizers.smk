# Tokenizers: retrieval, and the fertility analysis of Telugu (and any Samanantar language).


rule tokenizer:
    input:
        code=code("tokenization.py", "resources.py", "shards.py"),
    output:
        directory(f"{TOKENIZER_DIR}/{{tokenizer}}"),
    params:
        spec=lambda wildcards: canonical(config["tokenizers"][wildcards.tokenizer]),
    log:
        "results/logs/tokenizers/{tokenizer}.log",
    benchmark:
        "results/benchmarks/tokenizers/{tokenizer}.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/tokenizer.py"


rule fertility_tokenizer:
    input:
        tokenizer=f"{TOKENIZER_DIR}/{{tokenizer}}",
        shards=rules.samanantar_shards.output.shards,
        corpora=fertility_corpus_files,
        code=code("fertility.py", "tokenization.py", "templates.py", "languages.py", "shards.py"),
    output:
        summary=f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.csv",
        sentences=f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.parquet",
        example=f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.json",
    params:
        lang=LANG,
        corpora=canonical(config["fertility"]["corpora"]),
        batch_size=config["fertility"]["batch_size"],
    log:
        "results/logs/fertility/{tokenizer}.log",
    benchmark:
        "results/benchmarks/fertility/{tokenizer}.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/fertility_tokenizer.py"


rule template_cost:
    input:
        tokenizer=f"{TOKENIZER_DIR}/{{tokenizer}}",
        prompts=cost_prompt_dirs,
        code=code("fertility.py", "templates.py", "tokenization.py"),
    output:
        f"{FERTILITY_DIR}/costs/{{tokenizer}}/{{template_key}}.csv",
    params:
        template=lambda wildcards: parse_template_key(wildcards.template_key)[0],
        max_lengths=lambda wildcards: cost_profiles()[(wildcards.tokenizer, wildcards.template_key)],
        datasets=config["prompts"]["datasets"],
    log:
        "results/logs/fertility/cost_{tokenizer}_{template_key}.log",
    benchmark:
        "results/benchmarks/fertility/cost_{tokenizer}_{template_key}.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/template_cost.py"


rule fertility_summary:
    input:
        summaries=expand(f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.csv", tokenizer=config["fertility"]["tokenizers"]),
        sentences=expand(f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.parquet", tokenizer=config["fertility"]["tokenizers"]),
        examples=expand(f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.json", tokenizer=config["fertility"]["tokenizers"]),
        costs=cost_csvs(),
        code=code("figures.py", "fertility_report.py"),
    output:
        summary=f"{FERTILITY_DIR}/summary.csv",
        costs=f"{FERTILITY_DIR}/costs.csv",
        examples=f"{FERTILITY_DIR}/examples.json",
        figure_premium="results/figures/fertility.png",
        figure_sentences="results/figures/tokens_per_sentence.png",
    log:
        "results/logs/fertility/summary.log",
    benchmark:
        "results/benchmarks/fertility/summary.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/fertility_summary.py"


rule fertility:
    input:
        rules.fertility_summary.output,
