import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.atomic import write_json  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.report.figures import fertility_figure, tokens_per_sentence_figure  # noqa: E402
from telugu_llm.tokens.summary import gather_fertility  # noqa: E402

i, o = snakemake.input, snakemake.output
with logged(snakemake.log[0]):
    summary, sentences, examples, costs = gather_fertility(i.summaries, i.sentences, i.examples, i.costs)
    summary.to_csv(o.summary, index=False)
    costs.to_csv(o.costs, index=False)
    write_json(Path(o.examples), examples)
    fertility_figure(summary, Path(o.figure_premium))
    tokens_per_sentence_figure(sentences, Path(o.figure_sentences))
