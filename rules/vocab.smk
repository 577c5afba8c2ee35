# Vocabulary: tokenizers extended with pieces of the language learned from its training text
# (vocab.extend), analysed beside their bases (fertility), and the comparison of each model with its
# extended twin. The pieces are learned once per learner (Llama-2's and Mistral's share one), at the
# largest size asked for; every extension and curve point is its prefix (vocab/learn.py).


rule vocab_learn:
    input:
        unpack(vocab_learn_inputs),
        code=code("vocab_learn.py"),
    output:
        directory(VOCAB_LEARNED_DIR),
    params:
        bases=vocab_bases(),
        pieces=vocab_learned_pieces(),
        key="vocab (the largest of vocab.extend's pieces and vocab.curve)",
        lang=LANG,
        sources=config["vocab"]["sources"],
        max_sentences=config["vocab"]["max_sentences"],
    threads: all_cores()
    resources:  # measured (bench/vocab_scale.py): 1M sentences, 32,000 pieces: 1.8 GB peak, 4 min on 2 busy cores
        mem_mb=6000,
        runtime=120,
    log:
        "results/logs/vocab/learn.log",
    benchmark:
        "results/benchmarks/vocab/learn.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/vocab_learn.py"


rule vocab_extend:
    input:
        unpack(vocab_inputs),
        code=code("vocab_extend.py"),
    output:
        directory(f"{TOKENIZER_DIR}/{{tokenizer}}"),
    wildcard_constraints:
        tokenizer=EXTENDED_TOKENIZER_RE,
    params:
        pieces=lambda wildcards: EXTENDED_TOKENIZERS[wildcards.tokenizer]["pieces"],
        key=lambda wildcards: f"vocab.extend.{EXTENDED_TOKENIZERS[wildcards.tokenizer]['model']}.pieces",
        lang=LANG,
        sources=config["vocab"]["sources"],
    threads: all_cores()
    resources:  # the check streams: 1.0 GB peak at 50,000 pairs, 1.2 GB and 34 min at 1M (busy cores; 4.9M: ~3 h)
        mem_mb=4000,
        runtime=480,
    log:
        "results/logs/vocab/{tokenizer}.log",
    benchmark:
        "results/benchmarks/vocab/{tokenizer}.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/vocab_extend.py"


rule vocab_curve:
    input:
        unpack(vocab_curve_inputs),
        code=code("vocab_curve.py"),
    output:
        table="results/vocab/curve.csv",
        figure="results/figures/vocab_curve.png",
    params:
        tokenizers=canonical(EXTENDED_TOKENIZERS),
        sizes=config["vocab"]["curve"],
        lang=LANG,
    threads: all_cores()
    resources:  # measured on a 10,000-pair test split: 0.85 GB peak, 2 min (grows with the test split only)
        mem_mb=4000,
        runtime=60,
    log:
        "results/logs/vocab/curve.log",
    benchmark:
        "results/benchmarks/vocab/curve.tsv"
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/vocab_curve.py"


rule vocab_compare:
    input:
        unpack(vocab_compare_inputs),
        code=code("vocab_compare.py"),
    output:
        table="results/vocab/comparison.csv",
    params:
        runs=vocab_compare_runs,
        adaptations=vocab_compare_adaptations(),
        inits=ADAPT["inits"],
        lang=LANG,
        intervals=canonical(config["intervals"]),
    log:
        "results/logs/vocab/comparison.log",
    benchmark:
        "results/benchmarks/vocab/comparison.tsv"
    conda:
        "../envs/eval.yaml"
    script:
        "../scripts/vocab_compare.py"
