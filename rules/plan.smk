# The sweep's cost, planned before it runs: every training run's GPU-hours from the tokens of its
# own examples and the throughput table of plan.gpu (no GPU needed). train_run's runtime reads it.


rule plan:
    input:
        unpack(plan_inputs),
        code=code("plan_cost.py"),
    output:
        cost=PLAN_COST,
        summary=f"{PLAN_DIR}/summary.json",
        markdown=f"{PLAN_DIR}/cost.md",
    params:
        runs=plan_runs(),
        plan=section("plan", "margin"),
    log:
        "results/logs/plan/plan.log",
    benchmark:
        "results/benchmarks/plan/plan.tsv"
    conda:
        "../envs/tokenizers.yaml"
    script:
        "../scripts/plan_cost.py"
