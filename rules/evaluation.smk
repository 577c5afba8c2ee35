# Evaluation: the sets, one run per (model, adapter) with `base` for the base model, the summary.


rule eval_sets:
    input:
        unpack(eval_set_inputs),
        code=code("eval_sets.py"),
    output:
        directory(EVAL_SETS_DIR),
    params:
        spec=eval_set_params(),
        root=str(Path(EVAL["sets_path"]) if EVAL["sets_path"] else WORKFLOW_DIR / "data" / "eval"),
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "results/logs/eval/sets.log",
    benchmark:
        "results/benchmarks/eval/sets.tsv"
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/eval_sets.py"


rule evaluate_run:
    input:
        unpack(eval_inputs),
        code=code("evaluate_run.py"),
    output:
        generations=f"{EVAL_DIR}/{{model}}/{{adapter}}/generations.parquet",
        metrics=f"{EVAL_DIR}/{{model}}/{{adapter}}/metrics.json",
    params:
        settings=eval_settings(),
        model=eval_model_params,
        device=config["train"]["device"],
    threads: eval_threads
    resources:
        gpu=1 if config["train"]["device"] == "cuda" else 0,
        mem_mb=model_resource("mem_mb"),
        runtime=eval_runtime,
    log:
        "results/logs/eval/{model}/{adapter}.log",
    benchmark:
        "results/benchmarks/eval/{model}/{adapter}.tsv"
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/evaluate_run.py"


rule eval_summary:
    input:
        generations=eval_outputs(),
        code=code("eval_summary.py"),
    output:
        summary=f"{EVAL_DIR}/summary.csv",
        differences=f"{EVAL_DIR}/differences.csv",
        coverage=f"{EVAL_DIR}/coverage.csv",
        contrasts=f"{EVAL_DIR}/contrasts.csv",
        seeds=f"{EVAL_DIR}/seeds.csv",
        figure="results/figures/evaluation.png",
        figure_size="results/figures/training_size.png",
    params:
        intervals=canonical(config["intervals"]),
        twins=canonical(TWINS),
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "results/logs/eval/summary.log",
    benchmark:
        "results/benchmarks/eval/summary.tsv"
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/eval_summary.py"


rule evaluate:
    input:
        rules.eval_summary.output,
