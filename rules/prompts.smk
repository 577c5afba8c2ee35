# Prompts: every dataset formatted with every template a model uses, prompt and completion apart.


rule format_prompts:
    input:
        unpack(prompt_inputs),
        code=code("prompts.py", "templates.py", "hashing.py", "shards.py", "tokenization.py"),
    output:
        directory(f"{PROMPTS_DIR}/{{template_key}}/{{dataset}}"),
    params:
        template=lambda wildcards: parse_template_key(wildcards.template_key)[0],
        samanantar=samanantar_prompt_params,
    log:
        "results/logs/prompts/{template_key}_{dataset}.log",
    benchmark:
        "results/benchmarks/prompts/{template_key}_{dataset}.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/format_prompts.py"


rule prompts:
    input:
        prompt_dirs(),
