# Data: Samanantar and OpenAssistant-Guanaco to cleaned, split Parquet shards; nested subsets; the summary.


rule samanantar_shards:
    input:
        unpack(samanantar_files),
        code=code("samanantar_shards.py"),
    output:
        shards=directory(f"{SAMANANTAR_DIR}/shards"),
        quality=f"{SAMANANTAR_DIR}/quality.json",
    params:
        settings=section("samanantar", "subsets", "seed", "path"),
        root=samanantar_root(),
    resources:
        mem_mb=4000,
        runtime=180,
    log:
        f"results/logs/data/samanantar_en-{LANG}.log",
    benchmark:
        f"results/benchmarks/data/samanantar_en-{LANG}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/samanantar_shards.py"


rule samanantar_subset:
    input:
        shards=rules.samanantar_shards.output.shards,
        code=code("samanantar_subset.py"),
    output:
        subset=directory(f"{SAMANANTAR_DIR}/subsets/{{size}}"),
    params:
        size=lambda wildcards: int(wildcards.size),
        seed=config["samanantar"]["seed"],
        rows_per_shard=config["samanantar"]["rows_per_shard"],
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        f"results/logs/data/samanantar_en-{LANG}_subset_{{size}}.log",
    benchmark:
        f"results/benchmarks/data/samanantar_en-{LANG}_subset_{{size}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/samanantar_subset.py"


rule guanaco_shards:
    input:
        unpack(guanaco_files),
        code=code("guanaco_shards.py"),
    output:
        shards=directory(f"{GUANACO_DIR}/shards"),
        quality=f"{GUANACO_DIR}/quality.json",
    params:
        settings=section("guanaco", "path"),
        path=guanaco_path(),
    resources:
        mem_mb=2000,
        runtime=30,
    log:
        "results/logs/data/guanaco.log",
    benchmark:
        "results/benchmarks/data/guanaco.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/guanaco_shards.py"


rule data_summary:
    input:
        samanantar_quality=rules.samanantar_shards.output.quality,
        samanantar_shards=rules.samanantar_shards.output.shards,
        subsets=subset_dirs(),
        guanaco_quality=rules.guanaco_shards.output.quality,
        guanaco_shards=rules.guanaco_shards.output.shards,
        code=code("data_summary.py"),
    output:
        summary="results/data/summary.json",
        figure="results/figures/data_lengths.png",
    params:
        examples=config["report"]["examples"],
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/data/summary.log",
    benchmark:
        "results/benchmarks/data/summary.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/data_summary.py"


rule data:
    input:
        rules.samanantar_shards.output,
        subset_dirs(),
        rules.guanaco_shards.output,
