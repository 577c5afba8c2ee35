import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.plan.study import plan_runs  # noqa: E402
from telugu_llm.plan.summary import write_plan  # noqa: E402

with logged(snakemake.log[0]):
    write_plan(plan_runs(list(snakemake.params.runs), dict(snakemake.params.plan)), dict(snakemake.params.plan),
               cost_path=snakemake.output.cost, summary_path=snakemake.output.summary,
               markdown_path=snakemake.output.markdown)
