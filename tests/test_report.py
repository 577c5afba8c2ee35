import json

import pandas as pd
import pytest

from telugu_llm.provenance import config_hash
from telugu_llm.report.render import render_report


@pytest.fixture
def summary(tmp_path):
    evil = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    sam = {"pair": "en-te", "language": "Telugu", "source": "local", "inputs": [evil], "rows_read": 3, "rows_kept": 2,
           "splits": {"train": 1, "validation": 0, "test": 1}, "dropped": {"empty_side": 1},
           "overlap": {"groups": 0, "pairs_in_groups": 0, "moved": 0},
           "dropped_examples": {"empty_side": [{"line": 2, "src": evil, "tgt": ""}]},
           "subsets": [{"size": 1, "seed": 1, "train_rows": 1}],
           "lengths": {"src_chars": {"mean": 1.0, "median": 1.0, "p95": 1.0, "max": 1}},
           "examples": [{"id": "00", "src": evil, "tgt": "తెలుగు"}]}
    gua = {"source": "embedded", "inputs": ["x"], "rows_read": 1, "rows_kept": 1, "splits": {"train": 1},
           "dropped": {"duplicate": 0}, "malformed": {}, "blank_lines_skipped": 0, "dropped_examples": {},
           "languages": {"te": 1}, "scripts": {"Telugu": 1}, "turns": {"mean": 2, "max": 2},
           "chars": {"mean": 1, "max": 1},
           "examples": [{"id": "01", "lang": "te", "script": "Telugu",
                         "turns": [{"role": "Human", "content": evil}, {"role": "Assistant", "content": "సరే"}]}]}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"samanantar": sam, "guanaco": gua}))
    return path


def test_report_escapes_data_and_inlines_figures(tmp_path, summary):
    png = tmp_path / "f.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    out = tmp_path / "report.html"
    render_report(out_html=out, data_summary=summary, figures={"data_lengths": png}, config={"a": "<b>"}, commit="abc")
    html = out.read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "src=\"data:image/png;base64," in html and "http" not in html.split("<body>")[1].split("Provenance")[0].replace("http-equiv", "")
    assert "తెలుగు" in html and "&lt;b&gt;" in html
    assert config_hash({"a": "<b>"}) in html


def test_config_hash_ignores_key_order():
    assert config_hash({"a": 1, "b": {"c": 2, "d": 3}}) == config_hash({"b": {"d": 3, "c": 2}, "a": 1})


def test_evaluation_findings_claim_no_more_than_the_numbers():
    import pandas as pd

    from telugu_llm.evaluation.summary import COLUMNS, COVERAGE_COLUMNS, DIFFERENCE_COLUMNS
    from telugu_llm.report.evaluation import evaluation_findings

    rows = []
    for adapter, chrf, fidelity, stop, f1 in (("base", 10.0, 0.4, 0.0, 0.2), ("samanantar", 20.0, 0.9, 0.5, 0.6)):
        rows += [["m", adapter, "embedded", "translation", "te", "chrf++", chrf, chrf - 1, chrf + 1, 6, "own"],
                 ["m", adapter, "embedded", "translation", "te", "script_fidelity", fidelity, fidelity - .1, fidelity + .1, 6, "own"],
                 ["m", adapter, "embedded", "translation", "te", "stop_rate", stop, 0, 1, 6, "own"],
                 ["m", adapter, "embedded", "qa", "te", "f1", f1, f1 - .1, f1 + .1, 6, "own"],
                 # the same on the items common to all runs (fewer): never quoted as the run's own value
                 ["m", adapter, "embedded", "translation", "te", "script_fidelity", 0.05, 0.0, 0.1, 6, "common to all runs"],
                 # a one-item group whose value would be the most striking: never quoted
                 ["m", adapter, "study_probes", "open_qa", "te", "script_fidelity", 0.12, 0.12, 0.12, 1, "own"],
                 ["m", adapter, "study_probes", "safety", "en", "refusal", 1.0 if adapter == "base" else 0.0, 1.0, 1.0, 1, "own"]]
    summary = pd.DataFrame(rows, columns=COLUMNS)
    family, nan = "base vs tuned: m samanantar", float("nan")
    differences = pd.DataFrame([
        ["m", "samanantar", "embedded", "translation", "te", "chrf++", 10.0, 20.0, 10.0, 8.0, 12.0, 0.001, 0.003, "better", 6, 6, family],
        ["m", "samanantar", "embedded", "translation", "en", "chrf++", 10.0, 12.0, 2.0, 1.0, 3.0, 0.001, 0.003, "better", 6, 6, family],
        ["m", "samanantar", "embedded", "qa", "te", "f1", 0.2, 0.6, 0.4, 0.1, 0.7, 0.01, 0.02, "better", 6, 6, family],
        # the same evidence again (exact match beside F1, BLEU beside chrF++): an interval, no verdict, not counted
        ["m", "samanantar", "embedded", "qa", "te", "exact_match", 0.2, 0.6, 0.4, 0.1, 0.7, 0.01, nan, nan, 6, 6, nan],
        ["m", "samanantar", "embedded", "translation", "te", "bleu_intl", 5.0, 9.0, 4.0, 2.0, 6.0, 0.01, nan, nan, 6, 6, nan],
        ["m", "samanantar", "study_probes", "open_qa", "te", "script_fidelity", 0.9, 0.12, -0.78, nan,
         nan, nan, nan, "too few items", 1, 1, family]], columns=DIFFERENCE_COLUMNS)
    coverage = pd.DataFrame([["m", "base", "embedded", "qa", "te", 8, 0, "", 0, 0, 6],
                             ["m", "samanantar", "embedded", "qa", "te", 8, 0, "base", 7, 1, 6],
                             ["g", "base", "embedded", "qa", "te", 6, 2, "", 0, 0, 6],
                             ["h", "x/y/1/seed1", "embedded", "qa", "te", 5, 0, "base not evaluated", 0, 0, 5]],
                            columns=COVERAGE_COLUMNS)
    findings = evaluation_findings(summary, differences, coverage, 0.95, 6)
    text = " ".join(findings)
    # each comparison counted once: exact match and BLEU are not among the 3 claimed
    assert "of 3 claimed comparisons (headline metric and degeneration measures, each counted once) with at least 6 " \
           "items, 3 are better and 0 worse after the Benjamini-Hochberg correction" in text
    assert "1 comparisons over fewer items get no verdict" in text
    # changes compared within a metric, never chrF++ (0-100) against F1 (0-1)
    assert "Largest chrf++ change (on its 0–100 scale)" in text and "Largest f1 change (on its 0–1 scale)" in text
    # the largest of 2 groups: its interval widened for the selection (Bonferroni over the 2), not its own [+8, +12]
    assert "10 → 20 (+10, 95 % interval [+7.54, +12.5] adjusted for picking the largest of 2 groups, 6 items, " \
           "adjusted p 0.003: better)" in text
    assert "[+8, +12]" not in text
    assert "lowest for m / base" in text and "40.0 % of the letters" in text and "(6 items, 95 % interval 30.0–50.0 %)" in text
    assert "12.0" not in text and "5.0 % of the letters" not in text  # the one-item group, the common-items row
    assert "single answers, shown as examples, not measured" in text
    assert "1 of 2 (model, adapter, language) answers are refusals (m / base in en)" in text
    assert "m / samanantar: 1 of its 8 items are not in its comparison with its base" in text
    assert "h / x/y/1/seed1: its base model is not evaluated, so its 5 items are compared with nothing" in text
    assert "2 of the 8 items m evaluated are not among them" in text and "g skipped 2 items" in text


@pytest.mark.parametrize("verdict, said", [("fell", "the validation loss fell"), ("no clear change", "did not change clearly"),
                                           ("too few examples", "too few validation examples")])
def test_the_validation_loss_fell_only_where_the_interval_says_so(tmp_path, verdict, said):
    import pandas as pd

    from telugu_llm.report.training import training_context
    from telugu_llm.train.summary import SUMMARY_COLUMNS

    row = dict.fromkeys(SUMMARY_COLUMNS, 1)
    row.update(model="m", dataset="samanantar", eval_loss_before=3.2, eval_loss=3.1, device="cpu", validation_examples=16,
               validation_loss_base=3.25, validation_loss_tuned=3.15,
               validation_change=-0.1, validation_change_low=-0.3, validation_change_high=0.1, validation_verdict=verdict)
    pd.DataFrame([row]).to_csv(tmp_path / "t.csv", index=False)
    [finding] = training_context(tmp_path / "t.csv", 0.95)["findings"]
    assert said in finding and "over 16 validation examples, paired: 3.250 under the base model, 3.150" in finding
    assert "[-0.300, +0.100]" in finding


def test_a_run_without_a_validation_interval_says_so_not_nan(tmp_path):
    """Too few validation examples for an interval: the prose says there is none; before, it printed
    "95 % interval [+nan, +nan]"."""
    import pandas as pd

    from telugu_llm.report.training import training_context
    from telugu_llm.train.summary import SUMMARY_COLUMNS

    row = dict.fromkeys(SUMMARY_COLUMNS, 1)
    row.update(model="m", dataset="samanantar", eval_loss_before=3.2, eval_loss=3.1, device="cpu", validation_examples=1,
               validation_loss_base=3.25, validation_loss_tuned=3.15, validation_change=-0.1,
               validation_change_low=float("nan"), validation_change_high=float("nan"), validation_verdict="too few examples")
    pd.DataFrame([row]).to_csv(tmp_path / "t.csv", index=False)
    [finding] = training_context(tmp_path / "t.csv", 0.95)["findings"]
    assert "+nan" not in finding and "[nan" not in finding
    assert "a change of -0.100, no interval (too few to compute one)" in finding


def test_evaluation_texts_shown_in_the_report_are_cut(tmp_path):
    """A summarization document, its reference and an answer can be thousands of characters: the
    report shows each cut at SHOWN_CHARS, marked; the generations file keeps them whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from telugu_llm.report.evaluation import SHOWN_CHARS, generations_side_by_side

    run = tmp_path / "m" / "base"
    run.mkdir(parents=True)
    long = "తెలుగు " * 2000
    pq.write_table(pa.Table.from_pylist([{"set": "embedded", "task": "summarization", "lang": "te", "id": "s1",
                                          "instruction": long, "reference": long, "output": long,
                                          "stop_reason": "length"}]), run / "generations.parquet")
    (run / "metrics.json").write_text(json.dumps({"model": "m", "adapter": "base"}))
    [group], _ = generations_side_by_side([run / "generations.parquet"], [("m", "base")], examples=3)
    [item] = group["items"]
    for text in (item["instruction"], item["reference"], item["outputs"][0]["output"]):
        assert len(text) == SHOWN_CHARS + 1 and text.endswith("…") and long.startswith(text[:-1])
    assert pq.read_table(run / "generations.parquet")["reference"][0].as_py() == long


def test_findings_when_every_comparison_has_too_few_items():
    """The tiny configuration evaluates 2 items a group: no comparison gets a verdict, and the
    findings say so instead of failing."""
    import pandas as pd

    from telugu_llm.evaluation.summary import COLUMNS, COVERAGE_COLUMNS, DIFFERENCE_COLUMNS
    from telugu_llm.report.evaluation import evaluation_findings

    summary = pd.DataFrame([["m", a, "embedded", "qa", "en", "f1", 0.5, 0.1, 0.9, 2, "own"] for a in ("base", "x")],
                           columns=COLUMNS)
    differences = pd.DataFrame([["m", "x", "embedded", "qa", "en", "f1", 0.5, 0.5, 0.0, float("nan"), float("nan"),
                                 float("nan"), float("nan"), "too few items", 2, 2, "base vs tuned: m x"]],
                               columns=DIFFERENCE_COLUMNS)
    findings = evaluation_findings(summary, differences, pd.DataFrame(columns=COVERAGE_COLUMNS), 0.95, 6)
    assert "of 0 claimed comparisons" in findings[0] and "1 comparisons over fewer items" in findings[0]


def test_the_evaluation_section_finds_every_run_of_nested_paths(tmp_path):
    """A fine-tuned run's adapter is its training run's path (dataset/recipe/subset/seed): the report
    names it whole, and puts its outputs beside the base model's."""
    from test_evaluation import RUN, write_run

    from telugu_llm.evaluation.summary import summarize
    from telugu_llm.intervals import Intervals
    from telugu_llm.report.evaluation import evaluation_context

    items = {f"i{k}": 0.1 * k for k in range(6)}
    runs = {("m", "base"): write_run(tmp_path / "eval", "m", "base", items),
            ("m", RUN): write_run(tmp_path / "eval", "m", RUN, {k: v + 0.2 for k, v in items.items()})}
    csvs = {name: tmp_path / f"{name}.csv" for name in ("summary", "differences", "coverage")}
    summarize(runs, settings=Intervals(0.95, 6, {}), summary_csv=csvs["summary"], differences_csv=csvs["differences"],
              coverage_csv=csvs["coverage"])
    context = evaluation_context(csvs["summary"], csvs["differences"], csvs["coverage"], list(runs.values()), 3, 0.95, 6)
    assert context["run_labels"] == ["m / base", f"m / {RUN}"]
    outputs = [o for group in context["side_by_side"] for item in group["items"] for o in item["outputs"]]
    assert {o["run"] for o in outputs} == {"m / base", f"m / {RUN}"}
    assert all(o["stop"] != "not evaluated" for o in outputs), outputs
    assert [r["run"] for r in context["runs"]] == ["m / base", f"m / {RUN}"]


def test_the_runs_section_compares_recipes_sizes_and_seeds(tmp_path):
    from test_evaluation import write_run

    from telugu_llm.evaluation.summary import summarize
    from telugu_llm.intervals import Intervals
    from telugu_llm.report.render import environment
    from telugu_llm.report.runs import runs_context

    base = {f"i{k}": 0.1 * (k % 3) for k in range(12)}
    up = lambda delta: {k: v + delta + 0.01 * i for i, (k, v) in enumerate(base.items())}  # noqa: E731
    adapters = {"samanantar/corrected/50/seed1": up(0.2), "samanantar/corrected/200/seed1": up(0.5),
                "samanantar/study/200/seed1": base, "samanantar/corrected/200/seed2": up(0.48)}
    runs = {("m", "base"): write_run(tmp_path, "m", "base", base)}
    runs.update({("m", a): write_run(tmp_path, "m", a, items) for a, items in adapters.items()})
    out = {name: tmp_path / f"{name}.csv" for name in ("s", "d", "c", "contrasts", "seeds")}
    summarize(runs, settings=Intervals(0.95, 6, {}), summary_csv=out["s"], differences_csv=out["d"], coverage_csv=out["c"],
              contrasts_csv=out["contrasts"], seeds_csv=out["seeds"])
    context = runs_context(out["contrasts"], out["seeds"], 0.95, 6)
    assert {(r["from"], r["to"], r["metric"]) for r in context["recipes"]} >= {
        ("samanantar/study/200/seed1", "samanantar/corrected/200/seed1", "f1"),
        ("samanantar/study/200/seed1", "samanantar/corrected/200/seed1", "stop_rate")}
    assert [r["verdict"] for r in context["subsets"] if r["metric"] == "f1"] == ["better"]
    assert [r["verdict"] for r in context["seeds"] if r["metric"] == "f1" and r["against"] == "base"] == ["better"]
    findings = " ".join(context["findings"])
    assert "m, 50 → 200 Samanantar training pairs (corrected, seed1): of 1 headline comparisons with at least 6 items, " \
           "1 better and 0 worse" in findings
    assert "the change against the base model averaged over seeds, with a 95 % interval that holds the item sample and " \
           "the seed-to-seed variance: of 1 headline changes, 1 better and 0 worse (the interval excludes 0)" in findings
    # the same runs stopped by max_steps after 40 examples: the size contrast is budget-limited, no claim
    training = pd.DataFrame([{"model": "m", "dataset": "samanantar", "recipe": "corrected", "subset": size, "seed": 1,
                              "examples_seen": 40, "train_examples": 2 * int(size)} for size in ("50", "200")])
    training.to_csv(tmp_path / "training.csv", index=False)
    limited = runs_context(out["contrasts"], out["seeds"], 0.95, 6, tmp_path / "training.csv")
    assert [r["verdict"] for r in limited["subsets"] if r["metric"] == "f1"] == [
        "better (budget-limited: 40 and 40 examples seen, of 100 and 400)"]
    assert "no claim about the training-set size is made" in " ".join(limited["findings"])
    assert "1 better and 0 worse with the larger set" not in " ".join(limited["findings"])
    html = environment().get_template("runs.html.j2").render(runs=context, evaluation=None, figures={})
    assert "Recipes side by side" in html and "Training-set size" in html and "Across seeds" in html

    from telugu_llm.report.figures import training_size_figure

    summary = pd.read_csv(out["s"], dtype={"subset": str})
    training_size_figure(summary, tmp_path / "curve.png", 0.95)
    one_size = summary[summary["subset"] != "50"]
    training_size_figure(one_size, tmp_path / "none.png", 0.95)
    assert (tmp_path / "curve.png").stat().st_size > 3 * (tmp_path / "none.png").stat().st_size > 0


def test_the_runs_section_says_what_a_single_run_cannot_show(tmp_path):
    from telugu_llm.evaluation.summary import CONTRAST_COLUMNS, SEED_COLUMNS
    from telugu_llm.report.runs import runs_context

    pd.DataFrame(columns=CONTRAST_COLUMNS).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame(columns=SEED_COLUMNS).to_csv(tmp_path / "s.csv", index=False)
    findings = runs_context(tmp_path / "c.csv", tmp_path / "s.csv", 0.95, 6)["findings"]
    assert any(f.startswith("One recipe per run") for f in findings)
    assert any(f.startswith("One Samanantar training-set size per run") for f in findings)
    assert any(f.startswith("One seed per run") for f in findings)


def test_template_examples_name_template_dataset_and_subset(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from telugu_llm.report.prompts import template_examples

    folder = tmp_path / "prompts" / "llama2_study" / "samanantar" / "200"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"prompt": ["<s>[INST] hi [/INST]"], "completion": [" hello"], "task": ["translation"]}),
                   folder / "train.parquet")
    assert template_examples([folder]) == [{"template": "llama2_study", "dataset": "samanantar", "subset": "200",
                                            "prompt": "<s>[INST] hi [/INST]", "completion": " hello",
                                            "task": "translation"}]


def test_the_report_opens_with_each_claim_its_verdict_and_interval(tmp_path):
    """The opening summary: one row per claim (a BH family) and group on the headline metric, with its
    verdict and interval; each claim's verdicts counted once; the change across seeds; every text escaped."""
    from test_evaluation import write_run

    from telugu_llm.evaluation.summary import summarize
    from telugu_llm.intervals import Intervals
    from telugu_llm.report.claims import claims_context
    from telugu_llm.report.render import environment

    model = "m<script>x"
    base = {f"i{k}": 0.1 * (k % 3) for k in range(12)}
    up = lambda delta: {k: v + delta + 0.01 * i for i, (k, v) in enumerate(base.items())}  # noqa: E731
    runs = {(model, "base"): write_run(tmp_path, model, "base", base)}
    runs.update({(model, f"samanantar/corrected/200/seed{s}"): write_run(tmp_path, model, f"samanantar/corrected/200/seed{s}",
                                                                       up(d)) for s, d in ((1, 0.5), (2, 0.48))})
    out = {name: tmp_path / f"{name}.csv" for name in ("s", "d", "c", "contrasts", "seeds")}
    summarize(runs, settings=Intervals(0.95, 6, {"stop_rate": 0.05}), summary_csv=out["s"], differences_csv=out["d"],
              coverage_csv=out["c"], contrasts_csv=out["contrasts"], seeds_csv=out["seeds"])
    claims = claims_context(differences_csv=out["d"], contrasts_csv=out["contrasts"], seeds_csv=out["seeds"],
                            confidence=0.95, equivalence={"stop_rate": 0.05})
    assert [(r["claim"], r["metric"], r["verdict"]) for r in claims["rows"]] == [
        (f"base vs tuned: {model} samanantar/corrected/200/seed{s}", "f1", "better") for s in (1, 2)]
    assert claims["rows"][0]["diff"].startswith("0.555 [") and claims["rows"][0]["n"] == 12
    # f1 and the 4 degeneration measures, once each: not exact match (the same evidence as F1); no answer is
    # long enough for a repetition rate
    assert claims["sentences"][0] == (f"base vs tuned: {model} samanantar/corrected/200/seed1: 1 better, 1 equivalent, "
                                      "2 inconclusive, 1 too few items of 5 claimed comparisons (headline metric and degeneration "
                                      "measures, one Benjamini-Hochberg family).")
    [seed] = claims["seeds"]
    assert seed["seeds"] == 2 and seed["verdict"] == "better" and seed["diff"].startswith("0.545 [")
    html = environment().get_template("claims.html.j2").render(claims=claims)
    assert "What this run shows" in html and "<script>" not in html and "m&lt;script&gt;x" in html
    assert "stop_rate ±0.05" in html


def test_the_whole_report_opens_with_the_claims(tmp_path, summary):
    """render_report as scripts/report.py calls it, with the config's whole `intervals` section
    (equivalence margins included) passed to every section: the claims come first."""
    from test_evaluation import RUN, write_run

    from telugu_llm.evaluation.summary import summarize
    from telugu_llm.intervals import Intervals

    items = {f"i{k}": 0.1 * k for k in range(6)}
    runs = {("m", "base"): write_run(tmp_path / "eval", "m", "base", items),
            ("m", RUN): write_run(tmp_path / "eval", "m", RUN, {k: v + 0.2 for k, v in items.items()})}
    out = {name: tmp_path / f"{name}.csv" for name in ("s", "d", "c", "contrasts", "seeds")}
    intervals = {"confidence": 0.95, "min_items": 6, "equivalence": {"f1": 0.05}}
    summarize(runs, settings=Intervals(**intervals), summary_csv=out["s"], differences_csv=out["d"], coverage_csv=out["c"],
              contrasts_csv=out["contrasts"], seeds_csv=out["seeds"])
    png = tmp_path / "f.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    html_path = tmp_path / "report.html"
    render_report(out_html=html_path, data_summary=summary, config={"intervals": intervals}, commit="abc",
                  figures={"data_lengths": png, "evaluation": png, "training_size": png},
                  evaluation={"summary_csv": out["s"], "differences_csv": out["d"], "coverage_csv": out["c"],
                              "generations": list(runs.values()), "examples": 2, **intervals},
                  runs={"contrasts_csv": out["contrasts"], "seeds_csv": out["seeds"], **intervals})
    html = html_path.read_text()
    assert html.index('id="claims"') < html.index('id="data"') < html.index('id="evaluation"')
    assert f"base vs tuned: m {RUN}" in html and "f1 ±0.05" in html
