import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
import pandas as pd  # noqa: E402

from telugu_llm.evaluation.summary import run_named, summarize  # noqa: E402
from telugu_llm.intervals import Intervals  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.report.figures import evaluation_figure, training_size_figure  # noqa: E402
from telugu_llm.settings import from_dict  # noqa: E402

i, o = snakemake.input, snakemake.output
with logged(snakemake.log[0]) as log:
    runs = {run_named(Path(g)): Path(g) for g in i.generations}
    settings = from_dict(Intervals, snakemake.params.intervals, key="intervals")
    counts = summarize(runs, settings=settings, summary_csv=Path(o.summary), differences_csv=Path(o.differences),
                       coverage_csv=Path(o.coverage), contrasts_csv=Path(o.contrasts), seeds_csv=Path(o.seeds),
                       twins=dict(snakemake.params.twins))
    summary = pd.read_csv(o.summary, dtype={"subset": str})
    evaluation_figure(summary, Path(o.figure), settings.confidence)
    training_size_figure(summary, Path(o.figure_size), settings.confidence)
    log.info("summary: %s", counts)
