import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
import pandas as pd  # noqa: E402

from telugu_llm.evaluation import EvalSettings, summarize  # noqa: E402
from telugu_llm.figures import evaluation_figure  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402

i, o = snakemake.input, snakemake.output
with logged(snakemake.log[0]):
    runs = {(Path(g).parent.parent.name, Path(g).parent.name): Path(g) for g in i.generations}
    settings = EvalSettings.from_config(dict(snakemake.params.settings))
    summarize(runs, settings=settings, summary_csv=Path(o.summary), differences_csv=Path(o.differences))
    evaluation_figure(pd.read_csv(o.summary), Path(o.figure), settings.confidence)
