import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.intervals import Intervals  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.report.figures import training_curves_figure  # noqa: E402
from telugu_llm.settings import from_dict  # noqa: E402
from telugu_llm.train.summary import gather_runs  # noqa: E402

i, o = snakemake.input, snakemake.output
with logged(snakemake.log[0]):
    table, curves = gather_runs([Path(p) for p in i.metrics], [Path(p) for p in i.histories],
                                [Path(p) for p in i.validation],
                                from_dict(Intervals, snakemake.params.intervals, key="intervals"))
    table.to_csv(o.table, index=False)
    training_curves_figure(curves, "loss", "loss", "Loss against step", Path(o.figure_loss), eval_column="eval_loss")
    training_curves_figure(curves, "learning_rate", "learning rate", "Learning rate against step", Path(o.figure_lr))
