# The report: one self-contained HTML file from every stage's summary.


rule report:
    input:
        unpack(training_report_inputs),
        unpack(eval_report_inputs),
        unpack(vocab_report_inputs),
        data_summary=rules.data_summary.output.summary,
        data_lengths=rules.data_summary.output.figure,
        fertility_summary=rules.fertility_summary.output.summary,
        fertility_costs=rules.fertility_summary.output.costs,
        fertility_examples=rules.fertility_summary.output.examples,
        fertility_figure=rules.fertility_summary.output.figure_premium,
        sentences_figure=rules.fertility_summary.output.figure_sentences,
        prompts=prompt_dirs(),
        templates=sorted(str(p) for p in (PACKAGE / "report" / "templates").glob("*.j2")),
        code=code("report.py"),
    output:
        html="results/report.html",
    params:
        config=canonical(config),
        examples=config["report"]["examples"],
        intervals=canonical(config["intervals"]),
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        "results/logs/report/report.log",
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/report.py"
