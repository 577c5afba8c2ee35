import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
import json  # noqa: E402

from telugu_llm.fertility_report import gather  # noqa: E402
from telugu_llm.figures import fertility_figure, tokens_per_sentence_figure  # noqa: E402
from telugu_llm.logs import logged  # noqa: E402

i, o = snakemake.input, snakemake.output
with logged(snakemake.log[0]):
    summary, sentences, examples, costs = gather(i.summaries, i.sentences, i.examples, i.costs)
    summary.to_csv(o.summary, index=False)
    costs.to_csv(o.costs, index=False)
    Path(o.examples).write_text(json.dumps(examples, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    fertility_figure(summary, Path(o.figure_premium))
    tokens_per_sentence_figure(sentences, Path(o.figure_sentences))
