import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
import pandas as pd  # noqa: E402

from telugu_llm.evaluation.settings import SummarySettings  # noqa: E402
from telugu_llm.evaluation.summary import summarize  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.report.figures import evaluation_figure  # noqa: E402
from telugu_llm.settings import from_dict  # noqa: E402

i, o = snakemake.input, snakemake.output
with logged(snakemake.log[0]):
    runs = {(Path(g).parent.parent.name, Path(g).parent.name): Path(g) for g in i.generations}
    settings = from_dict(SummarySettings, snakemake.params.settings, key="evaluation")
    summarize(runs, settings=settings, summary_csv=Path(o.summary), differences_csv=Path(o.differences))
    evaluation_figure(pd.read_csv(o.summary), Path(o.figure), settings.bootstrap.confidence)
