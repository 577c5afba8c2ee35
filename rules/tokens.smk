# Tokens: tokenizer retrieval, and the fertility analysis of Telugu (and any Samanantar language),
# with the cost of each template (rule template_cost, in prompts.smk).


rule tokenizer:
    input:
        code=code("tokenizer.py"),
    output:
        directory(f"{TOKENIZER_DIR}/{{tokenizer}}"),
    wildcard_constraints:
        tokenizer=BASE_TOKENIZER_RE,
    params:
        spec=lambda wildcards: canonical(config["tokenizers"][wildcards.tokenizer]),
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        "results/logs/tokenizers/{tokenizer}.log",
    benchmark:
        "results/benchmarks/tokenizers/{tokenizer}.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/tokenizer.py"


rule fertility_corpus:
    input:
        code=code("fertility_corpus.py"),
    output:
        directory(f"{CORPUS_DIR}/{{corpus}}"),
    params:
        corpus=corpus_spec,
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "results/logs/fertility/corpus_{corpus}.log",
    benchmark:
        "results/benchmarks/fertility/corpus_{corpus}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/fertility_corpus.py"


rule fertility_tokenizer:
    input:
        tokenizer=f"{TOKENIZER_DIR}/{{tokenizer}}",
        shards=rules.samanantar_shards.output.shards,
        corpora=fertility_corpus_files,
        code=code("fertility_tokenizer.py"),
    output:
        summary=f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.csv",
        sentences=f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.parquet",
        example=f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.json",
    params:
        lang=LANG,
        corpora=canonical(config["fertility"]["corpora"]),
        corpus_dir=CORPUS_DIR,
        batch_size=config["fertility"]["batch_size"],
    threads: 2
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "results/logs/fertility/{tokenizer}.log",
    benchmark:
        "results/benchmarks/fertility/{tokenizer}.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/fertility_tokenizer.py"


rule fertility_summary:
    input:
        summaries=expand(f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.csv", tokenizer=FERTILITY_TOKENIZERS),
        sentences=expand(f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.parquet", tokenizer=FERTILITY_TOKENIZERS),
        examples=expand(f"{FERTILITY_DIR}/tokenizers/{{tokenizer}}.json", tokenizer=FERTILITY_TOKENIZERS),
        costs=cost_csvs(),
        code=code("fertility_summary.py"),
    output:
        summary=f"{FERTILITY_DIR}/summary.csv",
        costs=f"{FERTILITY_DIR}/costs.csv",
        examples=f"{FERTILITY_DIR}/examples.json",
        figure_premium="results/figures/fertility.png",
        figure_sentences="results/figures/tokens_per_sentence.png",
    resources:
        mem_mb=4000,
        runtime=30,
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
