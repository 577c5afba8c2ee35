# The report: a data summary and figure, then one self-contained HTML file.


rule data_summary:
    input:
        samanantar_quality=rules.samanantar_shards.output.quality,
        samanantar_shards=rules.samanantar_shards.output.shards,
        subsets=subset_dirs(),
        guanaco_quality=rules.guanaco_shards.output.quality,
        guanaco_shards=rules.guanaco_shards.output.shards,
        code=code("summary.py", "figures.py", "shards.py", "languages.py"),
    output:
        summary="results/data/summary.json",
        figure="results/figures/data_lengths.png",
    params:
        examples=config["report"]["examples"],
    log:
        "results/logs/report/data_summary.log",
    benchmark:
        "results/benchmarks/report/data_summary.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/data_summary.py"


rule report:
    input:
        unpack(training_report_inputs),
        unpack(eval_report_inputs),
        data_summary=rules.data_summary.output.summary,
        data_lengths=rules.data_summary.output.figure,
        fertility_summary=rules.fertility_summary.output.summary,
        fertility_costs=rules.fertility_summary.output.costs,
        fertility_examples=rules.fertility_summary.output.examples,
        fertility_figure=rules.fertility_summary.output.figure_premium,
        sentences_figure=rules.fertility_summary.output.figure_sentences,
        prompts=prompt_dirs(),
        template=str(PACKAGE / "templates" / "report.html.j2"),
        code=code("report.py", "eval_report.py", "provenance.py"),
    output:
        html="results/report.html",
    params:
        config=canonical(config),
        examples=config["report"]["examples"],
    log:
        "results/logs/report/report.log",
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/report.py"
