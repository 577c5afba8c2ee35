# Models and QLoRA training: weights as safetensors resources, one run per (model, dataset, recipe,
# subset, seed), each in its own folder (RUN).


rule model_weights:
    input:
        tokenizer=lambda wildcards: f"{TOKENIZER_DIR}/{config['models'][wildcards.model]['tokenizer']}",
        code=code("model_weights.py"),
    output:
        directory(f"{MODEL_DIR}/{{model}}"),
    params:
        spec=lambda wildcards: canonical(config["models"][wildcards.model]["weights"]),
    threads: 2
    resources:
        mem_mb=weights_memory,
        runtime=120,
    log:
        "results/logs/models/{model}.log",
    benchmark:
        "results/benchmarks/models/{model}.tsv"
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/model_weights.py"


# A run's examples tokenized once, on a CPU, outside the GPU job (pitfall 27): int32 Arrow streams
# that every rank of the run memory-maps.
rule tokenize_run:
    input:
        tokenizer=lambda wildcards: f"{TOKENIZER_DIR}/{config['models'][wildcards.model]['tokenizer']}",
        prompts=lambda wildcards: prompt_dir(model_template_key(wildcards.model), wildcards.dataset, wildcards.subset),
        partners=tokenize_partners,  # a model and its extended twin keep the examples both keep
        code=code("tokenize_run.py"),
    output:
        directory(f"{TOKENIZED_DIR}/{RUN_DATA}"),
    params:
        settings=tokenize_settings,
    resources:
        mem_mb=4000,
        runtime=120,
    log:
        f"results/logs/tokenized/{RUN_DATA}.log",
    benchmark:
        f"results/benchmarks/tokenized/{RUN_DATA}.tsv"
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/tokenize_run.py"


rule train_run:
    input:
        model=lambda wildcards: weights_dir(wildcards.model),
        tokenizer=lambda wildcards: f"{TOKENIZER_DIR}/{config['models'][wildcards.model]['tokenizer']}",
        tokenized=f"{TOKENIZED_DIR}/{RUN_DATA}",
        code=code("train_run.py"),
    output:
        adapter=directory(f"{TRAIN_DIR}/{RUN}/adapter"),
        history=f"{TRAIN_DIR}/{RUN}/log_history.csv",
        metrics=f"{TRAIN_DIR}/{RUN}/metrics.json",
        validation=f"{TRAIN_DIR}/{RUN}/validation_losses.csv",
    params:
        settings=run_settings,
        device=config["train"]["device"],
        checkpoints=lambda wildcards: f"results/checkpoints/{RUN.format(**wildcards)}",
    threads: model_threads
    # Training before evaluation when both are ready: a training job takes every process's cores and
    # an evaluation one process's, so an evaluation started first leaves the rest idle until it ends;
    # the evaluations, run later, fill the cores side by side.
    priority: 1
    resources:
        gpu=train_gpus,
        mem_mb=model_resource("mem_mb"),
        runtime=train_runtime,
    # a run longer than train.max_job_minutes continues in the next attempt, from its checkpoint
    retries: train_retries()
    log:
        f"results/logs/train/{RUN}.log",
    benchmark:
        f"results/benchmarks/train/{RUN}.tsv"
    conda:
        "../envs/train.yaml"
    script:
        "../scripts/train_run.py"


rule training_summary:
    input:
        metrics=train_outputs(),
        histories=[m.replace("metrics.json", "log_history.csv") for m in train_outputs()],
        validation=[m.replace("metrics.json", "validation_losses.csv") for m in train_outputs()],
        code=code("training_summary.py"),
    output:
        table=f"{TRAIN_DIR}/summary.csv",
        figure_loss="results/figures/training_loss.png",
        figure_lr="results/figures/learning_rate.png",
    params:
        intervals=canonical(config["intervals"]),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/train/summary.log",
    benchmark:
        "results/benchmarks/train/summary.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/training_summary.py"


rule train:
    input:
        train_outputs(),
