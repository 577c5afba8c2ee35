# Data: Samanantar and OpenAssistant-Guanaco to cleaned, split Parquet shards.


rule samanantar_shards:
    input:
        unpack(samanantar_files),
        code=code("samanantar.py", "lines.py", "text.py", "hashing.py", "shards.py", "languages.py"),
    output:
        shards=directory(f"{SAMANANTAR_DIR}/shards"),
        quality=f"{SAMANANTAR_DIR}/quality.json",
    params:
        source=config["samanantar"]["source"],
        root=samanantar_root(),
        lang=LANG,
        rows_per_shard=config["samanantar"]["rows_per_shard"],
        validation_fraction=config["samanantar"]["validation_fraction"],
        test_fraction=config["samanantar"]["test_fraction"],
        max_length_ratio=config["samanantar"]["max_length_ratio"],
        on_invalid_utf8=config["samanantar"]["on_invalid_utf8"],
        hub=canonical(config["samanantar"]["hub"]),
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
        code=code("subsets.py", "hashing.py", "shards.py"),
    output:
        subset=directory(f"{SAMANANTAR_DIR}/subsets/{{size}}"),
    params:
        size=lambda wildcards: int(wildcards.size),
        seed=config["samanantar"]["seed"],
        rows_per_shard=config["samanantar"]["rows_per_shard"],
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
        code=code("guanaco.py", "text.py", "hashing.py", "shards.py", "languages.py"),
    output:
        shards=directory(f"{GUANACO_DIR}/shards"),
        quality=f"{GUANACO_DIR}/quality.json",
    params:
        source=config["guanaco"]["source"],
        path=guanaco_path(),
        rows_per_shard=config["guanaco"]["rows_per_shard"],
        validation_fraction=config["guanaco"]["validation_fraction"],
        test_fraction=config["guanaco"]["test_fraction"],
        on_invalid_utf8=config["guanaco"]["on_invalid_utf8"],
        hub=canonical(config["guanaco"]["hub"]),
    log:
        "results/logs/data/guanaco.log",
    benchmark:
        "results/benchmarks/data/guanaco.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/guanaco_shards.py"


rule data:
    input:
        rules.samanantar_shards.output,
        subset_dirs(),
        rules.guanaco_shards.output,
