# Adaptation: continued pretraining on text in the language of each extended model (once per
# initialisation of its new rows) and of the model it extends with its own tokenizer (the fair
# baseline), then the held-out measures of every system side by side (adapt/compare.py). With
# adapt.instruction_tuning the training stage starts from these weights (weights_dir).


rule adapt_run:
    input:
        unpack(adapt_run_inputs),
        code=code("adapt_run.py"),
    output:
        model=directory(f"{ADAPT_DIR}/{{model}}/{{init}}/model"),
        facts=f"{ADAPT_DIR}/{{model}}/{{init}}/adaptation.json",
    wildcard_constraints:
        init="none|mean|overlap",
    params:
        settings=adapt_settings(),
        budget=adapt_budget,
        sources=ADAPT["sources"],
        max_sentences=ADAPT["max_sentences"],
        replay=canonical(REPLAY),
        lang=LANG,
    threads: model_threads
    resources:  # the model whole, not quantized, in its compute dtype, with AdamW on LoRA and new rows
        mem_mb=lambda wildcards: config["models"][wildcards.model]["resources"]["mem_mb"],
        runtime=lambda wildcards: config["models"][wildcards.model]["resources"]["runtime"],
        gpu=1 if config["train"]["device"] == "cuda" else 0,
    log:
        "results/logs/adapt/{model}/{init}.log",
    benchmark:
        "results/benchmarks/adapt/{model}/{init}.tsv"
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/adapt_run.py"


rule adapt_measure:
    input:
        unpack(adapt_measure_inputs),
        code=code("adapt_measure.py"),
    output:
        per_item=f"{ADAPT_DIR}/{{model}}/measures.parquet",
        summary=f"{ADAPT_DIR}/{{model}}/measures.json",
    params:
        systems=lambda wildcards: adapt_systems(wildcards.model)[2],
        measure=canonical(ADAPT["measure"]),
        device=config["train"]["device"],
        lang=LANG,
    threads: all_cores()  # alone on the host where it can be: its generation speeds are timings
    resources:
        mem_mb=lambda wildcards: config["models"][wildcards.model]["resources"]["mem_mb"],
        runtime=60,
        gpu=1 if config["train"]["device"] == "cuda" else 0,
    log:
        "results/logs/adapt/{model}/measures.log",
    benchmark:
        "results/benchmarks/adapt/{model}/measures.tsv"
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/adapt_measure.py"


rule adapt:
    input:
        adapt_measures(),
