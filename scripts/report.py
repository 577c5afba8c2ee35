import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))
from telugu_llm.logs import logged  # noqa: E402
from telugu_llm.provenance import git_commit  # noqa: E402
from telugu_llm.report.render import render_report  # noqa: E402

i, p = snakemake.input, snakemake.params
trained = "training_summary" in i.keys()
figures = {"data_lengths": Path(i.data_lengths), "fertility": Path(i.fertility_figure),
           "tokens_per_sentence": Path(i.sentences_figure)}
if trained:
    figures.update(training_loss=Path(i.training_loss), learning_rate=Path(i.learning_rate))
evaluated = "eval_summary" in i.keys()
if evaluated:
    figures.update(evaluation=Path(i.eval_figure), training_size=Path(i.eval_figure_size))
vocab = None
if "vocab_comparison" in i.keys():
    figures["vocab_curve"] = Path(i.vocab_curve_figure)
    vocab = {"comparison_csv": Path(i.vocab_comparison), "curve_csv": Path(i.vocab_curve),
             "contrasts_csv": Path(i.eval_contrasts) if evaluated else None,
             "tokenizer_dirs": [Path(d) for d in i.vocab_tokenizers], "examples": [Path(e) for e in i.vocab_examples],
             "adaptation": [Path(m) for m in i.get("vocab_adaptation", [])], "lang": p.config["samanantar"]["lang"],
             **p.intervals}
with logged(snakemake.log[0]):
    render_report(
        out_html=Path(snakemake.output.html),
        data_summary=Path(i.data_summary),
        figures=figures,
        training_summary=Path(i.training_summary) if trained else None,
        evaluation={"summary_csv": Path(i.eval_summary), "differences_csv": Path(i.eval_differences),
                    "coverage_csv": Path(i.eval_coverage), "generations": [Path(g) for g in i.eval_generations],
                    "examples": p.examples, **p.intervals} if evaluated else None,
        runs={"contrasts_csv": Path(i.eval_contrasts), "seeds_csv": Path(i.eval_seeds), **p.intervals,
              "training_summary_csv": Path(i.training_summary) if trained else None} if evaluated else None,
        vocab=vocab,
        benchmark_root=Path("results/benchmarks"),
        fertility={"summary_csv": Path(i.fertility_summary), "costs_csv": Path(i.fertility_costs),
                   "examples_json": Path(i.fertility_examples), "corpora": p.config["fertility"]["corpora"]},
        prompt_dirs=[Path(d) for d in i.prompts],
        config=p.config,
        commit=git_commit(Path(snakemake.scriptdir).parent),
    )
