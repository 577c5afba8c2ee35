# Prompts: every dataset formatted with every template a model uses, prompt and completion apart;
# and what each template costs in tokens under each tokenizer (read by the fertility summary).


rule format_prompts:
    input:
        unpack(prompt_inputs),
        code=code("format_prompts.py"),
    output:
        directory(f"{PROMPTS_DIR}/{{template_key}}/{{dataset}}/{{subset}}"),
    params:
        template=lambda wildcards: parse_template_key(wildcards.template_key)[0],
        samanantar=samanantar_prompt_params,
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "results/logs/prompts/{template_key}_{dataset}_{subset}.log",
    benchmark:
        "results/benchmarks/prompts/{template_key}_{dataset}_{subset}.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/format_prompts.py"


rule template_cost:
    input:
        tokenizer=f"{TOKENIZER_DIR}/{{tokenizer}}",
        prompts=cost_prompt_dirs,
        code=code("template_cost.py"),
    output:
        f"{FERTILITY_DIR}/costs/{{tokenizer}}/{{template_key}}.csv",
    params:
        template=lambda wildcards: parse_template_key(wildcards.template_key)[0],
        max_lengths=lambda wildcards: cost_profiles()[(wildcards.tokenizer, wildcards.template_key)],
        datasets=config["prompts"]["datasets"],
    resources:
        mem_mb=4000,
        runtime=60,
    log:
        "results/logs/fertility/cost_{tokenizer}_{template_key}.log",
    benchmark:
        "results/benchmarks/fertility/cost_{tokenizer}_{template_key}.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/template_cost.py"


rule prompts:
    input:
        prompt_dirs(),
