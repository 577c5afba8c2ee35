"""The workflow end to end, through Snakemake: lint, dry runs, a full run of the embedded default,
bad input at parse time and at run time, and which jobs a config edit re-runs."""

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import LIGHT, REPO, planned_jobs, snakemake, write_release

pytestmark = pytest.mark.workflow


def test_lint_is_clean():
    proc = snakemake(REPO, "--lint")
    assert "Congratulations, your workflow is in a good condition!" in proc.stdout + proc.stderr


def test_scripts_never_read_the_config():
    for script in (REPO / "scripts").glob("*.py"):
        assert "snakemake.config" not in script.read_text(), script


def test_dry_run_plans_the_whole_default(workflow):
    # Gemma-3-270M on Samanantar with its extra run (the study's recipe), SmolLM2-135M on
    # Samanantar and its extended twin (vocab.extend: the tokenizer extended, the same run); each run
    # evaluated, and Gemma's base (models.smollm2_135m.evaluate_base: false; a twin has no base)
    assert planned_jobs(workflow) == {"samanantar_shards": 1, "samanantar_subset": 3, "guanaco_shards": 1,
                                      "data_summary": 1, "tokenizer": 4, "vocab_learn": 1, "vocab_extend": 1, "format_prompts": 4,
                                      "fertility_tokenizer": 5, "template_cost": 5, "fertility_summary": 1,
                                      "model_weights": 2, "tokenize_run": 4, "train_run": 4, "training_summary": 1, "eval_sets": 1,
                                      "evaluate_run": 5, "eval_summary": 1, "vocab_curve": 1, "vocab_compare": 1,
                                      "adapt_run": 3, "adapt_measure": 1, "report": 1, "all": 1}
    # the adaptation (adapt): SmolLM2 with its own tokenizer, its twin with each of two initialisations
    assert planned_jobs(workflow, "adapt") == {
        "samanantar_shards": 1, "tokenizer": 1, "vocab_learn": 1, "vocab_extend": 1, "model_weights": 1, "adapt_run": 3,
        "adapt_measure": 1, "adapt": 1}
    assert planned_jobs(workflow, "evaluate") == {
        "samanantar_shards": 1, "samanantar_subset": 1, "tokenizer": 2, "vocab_learn": 1, "vocab_extend": 1, "format_prompts": 2,
        "model_weights": 2, "tokenize_run": 4, "train_run": 4, "eval_sets": 1, "evaluate_run": 5, "eval_summary": 1, "evaluate": 1}
    assert planned_jobs(workflow, "train") == {
        "samanantar_shards": 1, "samanantar_subset": 1, "tokenizer": 2, "vocab_learn": 1, "vocab_extend": 1, "format_prompts": 2,
        "model_weights": 2, "tokenize_run": 4, "train_run": 4, "train": 1}
    assert planned_jobs(workflow, "fertility") == {
        "samanantar_shards": 1, "samanantar_subset": 1, "guanaco_shards": 1, "tokenizer": 4, "vocab_learn": 1, "vocab_extend": 1,
        "format_prompts": 4, "fertility_tokenizer": 5, "template_cost": 5, "fertility_summary": 1, "fertility": 1}
    assert planned_jobs(workflow, "prompts") == {
        "samanantar_shards": 1, "samanantar_subset": 1, "guanaco_shards": 1, "format_prompts": 4, "prompts": 1}
    assert planned_jobs(workflow, "data") == {"samanantar_shards": 1, "samanantar_subset": 3, "guanaco_shards": 1,
                                              "data": 1}


def test_default_run_builds_shards_quality_and_report(built_workflow):
    data = built_workflow / "results" / "data"
    quality = json.loads((data / "samanantar" / "en-te" / "quality.json").read_text())
    assert quality["rows_read"] == 330 and quality["rows_kept"] + quality["dropped_total"] == 330
    assert sum(quality["splits"].values()) == quality["rows_kept"]
    train = pq.read_table(data / "samanantar" / "en-te" / "shards" / "train" / "part-00000.parquet")
    assert train.num_rows == quality["splits"]["train"]
    for size in (50, 100, 200):
        assert sum(pq.ParquetFile(p).metadata.num_rows
                   for p in (data / "samanantar" / "en-te" / "subsets" / str(size)).glob("part-*.parquet")) == size
    g = json.loads((data / "guanaco" / "quality.json").read_text())
    assert g["rows_read"] == 110 and {"te", "en", "es"} <= set(g["languages"])
    html = (built_workflow / "results" / "report.html").read_text()
    assert '<section id="data">' in html and "data:image/png;base64," in html
    assert '<section id="tokenizers">' in html and '<section id="templates">' in html
    assert '<section id="training">' in html
    assert '<section id="evaluation">' in html and '<section id="generations">' in html
    assert '<section id="runs">' in html  # recipes, sizes and seeds: the default's extra runs show each once
    assert '<section id="vocabulary">' in html  # SmolLM2 beside its extended twin
    assert html.count("data:image/png;base64,") == 8  # data, fertility x2, training x2, evaluation, size, vocabulary
    assert "Samanantar en-te (Telugu)" in html
    for rule_log in ("samanantar_en-te.log", "guanaco.log"):
        assert (built_workflow / "results" / "logs" / "data" / rule_log).exists()
    assert (built_workflow / "results" / "benchmarks" / "data" / "samanantar_en-te.tsv").exists()


def test_nothing_to_do_after_a_run(built_workflow):
    assert planned_jobs(built_workflow) == {}


# The default's run of its model (train.models, models.<name>.datasets): Gemma on Samanantar's
# 200-pair subset, the corrected recipe, the model's seed (42, the schema's default); and its extra
# run (models.<name>.extra_runs): the study's recipe. SmolLM2 (the same run) has
# no base evaluation (models.smollm2_135m.evaluate_base: false).
RUNS = {"gemma3_270m": "samanantar/corrected/200/seed42", "smollm2_135m": "samanantar/corrected/200/seed42"}
EXTRA = ("samanantar/study/200/seed42",)
# SmolLM2's extended twin (vocab.extend): the same run, with SmolLM2's tokenizer and 400 learned pieces
TWIN = ("smollm2_135m_te400", "smollm2_te400")


def write_config(workflow: Path, name: str, overrides: dict) -> str:
    path = workflow / name
    path.write_text(yaml.safe_dump(overrides, allow_unicode=True))
    return str(path)


def test_a_data_key_edit_reruns_only_its_dependants(built_workflow):
    after_prompts = {"template_cost": 5, "fertility_summary": 1, "training_summary": 1, "eval_summary": 1,
                     "vocab_compare": 1, "report": 1, "all": 1}
    guanaco = write_config(built_workflow, "g.yaml", {"guanaco": {"test_fraction": 0.2}})
    assert planned_jobs(built_workflow, "--configfile", guanaco) == {  # Guanaco's prompts per template (no run trains on it)
        "guanaco_shards": 1, "data_summary": 1, "format_prompts": 2, "template_cost": 5, "fertility_summary": 1,
        "report": 1, "all": 1}
    seed = write_config(built_workflow, "s.yaml", {"samanantar": {"seed": 99}})
    # Samanantar's subsets, the 200-pair prompts of both templates and the four runs; not the extended
    # tokenizer, learned from the whole training split, which the seed does not change
    assert planned_jobs(built_workflow, "--configfile", seed) == {
        "samanantar_subset": 3, "data_summary": 1, "format_prompts": 2, "tokenize_run": 4, "train_run": 4, "evaluate_run": 4,
        **after_prompts}
    subsets = write_config(built_workflow, "n.yaml", {"samanantar": {"subsets": [50, 100, 200, 150]}})
    assert planned_jobs(built_workflow, "--configfile", subsets) == {
        "samanantar_subset": 1, "data_summary": 1, "report": 1, "all": 1}
    ratio = write_config(built_workflow, "r.yaml", {"samanantar": {"max_length_ratio": 2.5}})
    assert planned_jobs(built_workflow, "--configfile", ratio) == {  # the splits change: everything on Samanantar
        "samanantar_shards": 1, "samanantar_subset": 3, "data_summary": 1, "vocab_learn": 1, "vocab_extend": 1, "fertility_tokenizer": 5,
        "format_prompts": 2, "tokenize_run": 4, "train_run": 4, "eval_sets": 1, "evaluate_run": 5, "vocab_curve": 1,
        "adapt_run": 3, "adapt_measure": 1, **after_prompts}


def test_a_tokenizer_or_prompt_edit_reruns_only_its_dependants(built_workflow):
    batch = write_config(built_workflow, "b.yaml", {"fertility": {"batch_size": 7}})
    assert planned_jobs(built_workflow, "--configfile", batch) == {
        "fertility_tokenizer": 5, "fertility_summary": 1, "report": 1, "all": 1}
    spec = yaml.safe_load((built_workflow / "config" / "config.yaml").read_text())["tokenizers"]["mistral"]
    mistral = write_config(built_workflow, "m.yaml", {"tokenizers": {"mistral": {**spec, "add_bos": False}}})
    assert planned_jobs(built_workflow, "--configfile", mistral) == {
        "tokenizer": 1, "fertility_tokenizer": 1, "template_cost": 1, "fertility_summary": 1, "report": 1, "all": 1}
    seed = write_config(built_workflow, "p.yaml", {"prompts": {"seed": 5}})
    assert planned_jobs(built_workflow, "--configfile", seed) == {  # Samanantar's prompts only
        "format_prompts": 2, "template_cost": 5, "fertility_summary": 1, "tokenize_run": 4, "train_run": 4, "training_summary": 1,
        "evaluate_run": 4, "eval_summary": 1, "vocab_compare": 1, "report": 1, "all": 1}
    pieces = write_config(built_workflow, "v.yaml", {"vocab": {"extend": {"smollm2_135m": {"pieces": 300}}}})
    # a new extended tokenizer, its twin's run, and SmolLM2's own run again: a model and its twin
    # train on the examples both tokenizers keep (issue 21), so the twin's tokenizer is an input of
    # the base's tokenize_run
    assert planned_jobs(built_workflow, "--configfile", pieces) == {
        "vocab_learn": 1, "vocab_extend": 1, "fertility_tokenizer": 1, "template_cost": 1, "fertility_summary": 1, "tokenize_run": 2,
        "train_run": 2, "adapt_run": 2, "adapt_measure": 1,  # the new twin adapted; SmolLM2's own adaptation kept
        "training_summary": 1, "evaluate_run": 2, "eval_summary": 1, "vocab_curve": 1, "vocab_compare": 1,
        "report": 1, "all": 1}
    curve = write_config(built_workflow, "c.yaml", {"vocab": {"curve": [100, 200]}})
    assert planned_jobs(built_workflow, "--configfile", curve) == {"vocab_curve": 1, "report": 1, "all": 1}
    budget = write_config(built_workflow, "a.yaml", {"adapt": {"budget": "text"}})
    assert planned_jobs(built_workflow, "--configfile", budget) == {  # the twin's adaptations, not SmolLM2's own
        "adapt_run": 2, "adapt_measure": 1, "vocab_compare": 1, "report": 1, "all": 1}
    replay = write_config(built_workflow, "r.yaml", {"adapt": {"replay": {"share": 0.5}}})
    assert planned_jobs(built_workflow, "--configfile", replay) == {  # every system reads the new mixture
        "adapt_run": 3, "adapt_measure": 1, "vocab_compare": 1, "report": 1, "all": 1}
    no_replay = write_config(built_workflow, "r0.yaml", {"adapt": {"replay": {"share": 0, "sources": ["guanaco"]}}})
    assert planned_jobs(built_workflow, "--configfile", no_replay) == planned_jobs(  # without a share, no sources read
        built_workflow, "--configfile", write_config(built_workflow, "r1.yaml", {"adapt": {"replay": {"share": 0}}}))


def test_a_training_edit_reruns_only_that_models_runs(built_workflow):
    models = yaml.safe_load((built_workflow / "config" / "config.yaml").read_text())["models"]
    gemma = dict(models["gemma3_270m"], training={**models["gemma3_270m"]["training"], "learning_rate": 0.002})
    lr = write_config(built_workflow, "lr.yaml", {"models": {"gemma3_270m": gemma}})
    assert planned_jobs(built_workflow, "--configfile", lr) == {  # that model's runs and their evaluations
        "train_run": 2, "training_summary": 1, "evaluate_run": 2, "eval_summary": 1, "report": 1, "all": 1}
    smol = dict(models["smollm2_135m"], training={**models["smollm2_135m"]["training"], "learning_rate": 0.002})
    lr = write_config(built_workflow, "lr2.yaml", {"models": {"smollm2_135m": smol}})
    assert planned_jobs(built_workflow, "--configfile", lr) == {  # SmolLM2's run and its twin's (the same settings)
        "train_run": 2, "training_summary": 1, "evaluate_run": 2, "eval_summary": 1, "vocab_compare": 1, "report": 1,
        "all": 1}


def test_a_new_seed_subset_or_recipe_runs_only_the_new_jobs(built_workflow):
    """Each dimension of a run is in its path, so that adding a value plans only the runs it adds (and
    the summaries); the runs already trained and evaluated (the default's extra run among them) are kept.
    An extended twin trains every run of its model (vocab.recipes, subsets and seeds: null)."""
    new_runs = {"training_summary": 1, "eval_summary": 1, "vocab_compare": 1, "report": 1, "all": 1}
    seeds = write_config(built_workflow, "seeds.yaml", {"train": {"seeds": [42, 43]}})
    assert planned_jobs(built_workflow, "--configfile", seeds) == {  # seed 43 of Gemma, SmolLM2 and the twin
        "train_run": 3, "evaluate_run": 3, **new_runs}
    same = write_config(built_workflow, "same.yaml", {"train": {"seeds": [42]}})
    assert planned_jobs(built_workflow, "--configfile", same) == {"report": 1, "all": 1}
    recipes = write_config(built_workflow, "same.yaml", {"train": {"recipes": ["corrected", "study"]}})
    assert planned_jobs(built_workflow, "--configfile", recipes) == {  # Gemma's study run exists (an extra run)
        "tokenize_run": 2, "train_run": 2, "evaluate_run": 2, **new_runs}
    subsets = write_config(built_workflow, "subsets.yaml", {"train": {"subsets": [50, 200]}})
    assert planned_jobs(built_workflow, "--configfile", subsets) == {  # 50 pairs of each, with both templates' prompts
        "format_prompts": 2, "tokenize_run": 3, "train_run": 3, "evaluate_run": 3, **new_runs}
    packed = {**yaml.safe_load((built_workflow / "config" / "config.yaml").read_text())["recipes"]["study"], "packing": True}
    recipes = write_config(built_workflow, "recipes.yaml", {"recipes": {"packed": packed},
                                                            "train": {"recipes": ["corrected", "study", "packed"]}})
    assert planned_jobs(built_workflow, "--configfile", recipes) == {  # all but Gemma's study run
        "tokenize_run": 5, "train_run": 5, "evaluate_run": 5, **new_runs}


def test_an_evaluation_edit_reruns_only_the_evaluation(built_workflow):
    items = write_config(built_workflow, "items.yaml", {"evaluation": {"max_items": 4}})
    assert planned_jobs(built_workflow, "--configfile", items) == {  # the sets hold the order, not the draw
        "evaluate_run": 5, "eval_summary": 1, "vocab_compare": 1, "report": 1, "all": 1}
    candidates = write_config(built_workflow, "candidates.yaml", {"evaluation": {"max_candidates": 3}})
    assert planned_jobs(built_workflow, "--configfile", candidates) == {
        "eval_sets": 1, "evaluate_run": 5, "eval_summary": 1, "vocab_compare": 1, "report": 1, "all": 1}
    limit = write_config(built_workflow, "limit.yaml", {"evaluation": {"max_new_tokens": {"qa": 8}}})
    assert planned_jobs(built_workflow, "--configfile", limit) == {
        "evaluate_run": 5, "eval_summary": 1, "vocab_compare": 1, "report": 1, "all": 1}
    level = write_config(built_workflow, "level.yaml", {"intervals": {"confidence": 0.9}})
    assert planned_jobs(built_workflow, "--configfile", level) == {  # summaries only: no generation, no training
        "training_summary": 1, "eval_summary": 1, "vocab_compare": 1, "report": 1, "all": 1}
    off = write_config(built_workflow, "off.yaml", {"evaluation": {"enabled": False}})
    assert planned_jobs(built_workflow, "--configfile", off) == {  # the comparison without its evaluation rows
        "vocab_compare": 1, "report": 1, "all": 1}


def test_default_run_evaluates_every_model_base_and_fine_tuned(built_workflow):
    eval_dir = built_workflow / "results" / "eval"
    for model, run in RUNS.items():
        for adapter in ("base", run) if model == "gemma3_270m" else (run,):
            run = eval_dir / model / adapter
            table = pq.read_table(run / "generations.parquet")
            assert {"set", "task", "lang", "prompt", "reference", "output", "stop_reason"} <= set(table.column_names)
            assert set(table.column("stop_reason").to_pylist()) <= {"eos", "marker", "length"}
            metrics = json.loads((run / "metrics.json").read_text())
            assert metrics["items"] == table.num_rows > 0 and metrics["generated_tokens_per_second"] > 0
            assert {"study_probes", "embedded", "samanantar_test"} <= set(table.column("set").to_pylist())
    summary = pd.read_csv(eval_dir / "summary.csv")
    assert list(summary.columns[:13]) == ["model", "adapter", "dataset", "recipe", "subset", "seed", "set", "task", "lang",
                                          "metric", "value", "ci_low", "ci_high"]
    assert {"chrf++", "bleu_intl", "rouge_l", "exact_match", "f1", "repetition_rate", "stop_rate",
            "script_fidelity"} <= set(summary["metric"])
    assert set(summary["adapter"]) == {"base", *RUNS.values(), *EXTRA}
    assert set(summary["dataset"]) == {"base", "samanantar"} and set(summary["model"]) == {*RUNS, TWIN[0]}
    assert set(summary.loc[summary["model"] == TWIN[0], "adapter"]) == {RUNS["smollm2_135m"]}  # no base of its own
    assert set(summary["recipe"].dropna()) == {"corrected", "study"} and set(summary["seed"].dropna()) == {42}
    assert {("embedded", "translation", "te"), ("embedded", "qa", "en"), ("samanantar_test", "translation", "en")} <= set(
        zip(summary["set"], summary["task"], summary["lang"]))
    finite = summary.dropna(subset=["value", "ci_low"])
    assert ((finite["ci_low"] <= finite["value"] + 1e-9) & (finite["value"] <= finite["ci_high"] + 1e-9)).all()
    differences = pd.read_csv(eval_dir / "differences.csv")
    assert set(differences["adapter"]) == {*RUNS.values(), *EXTRA} and set(differences["model"]) == {"gemma3_270m"}
    contrasts = pd.read_csv(eval_dir / "contrasts.csv", dtype={"from": str, "to": str})
    assert set(zip(contrasts["model"], contrasts["dimension"], contrasts["from"], contrasts["to"])) == {
        ("gemma3_270m", "recipe", EXTRA[0], RUNS["gemma3_270m"]),
        ("smollm2_135m", "vocabulary", RUNS["smollm2_135m"], TWIN[0])}
    seeds = pd.read_csv(eval_dir / "seeds.csv", dtype={"subset": str})
    assert (seeds["seeds"] == 1).all()  # one seed per run in the default (config/sweep.yaml has three)
    # one training-set size per model in the default: the figure says so (config/sweep.yaml has two)
    assert (built_workflow / "results" / "figures" / "training_size.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert set(differences["verdict"].dropna()) <= {"better", "worse", "inconclusive", "equivalent", "too few items"}
    claimed = differences[differences["family"].notna()]  # secondary metrics: an interval, no verdict
    assert len(claimed) and (claimed.loc[claimed["n"] < 6, "verdict"] == "too few items").all()
    assert (differences["p_adjusted"].dropna() >= differences.loc[differences["p_adjusted"].notna(), "p"] - 1e-12).all()
    coverage = pd.read_csv(eval_dir / "coverage.csv")
    assert {"evaluated", "compared", "not_compared", "skipped_prompt_too_long"} <= set(coverage.columns)


def test_the_study_configuration_validates_and_plans(workflow):
    plan = planned_jobs(workflow, "--configfile", "config/paper.yaml")
    # the shipped plan (train.skip): per model, 2 recipes x 3 seeds at 10k and on Guanaco, at 100k the
    # corrected recipe x 3 seeds and the study's once, 1M once on Llama-2 (corrected); each model's
    # extended twin on one run (vocab: corrected, 100k pairs, seed 1); each run evaluated, and each base
    # but the twins'
    assert plan["model_weights"] == 2 and plan["train_run"] == 2 * (6 + 6 + 4) + 1 + 2 and plan["template_cost"] == 2 + 2
    # each model's template on each size it trains on and on Guanaco: Mistral is not trained on 1M pairs
    assert plan["tokenizer"] == 3 and plan["samanantar_subset"] == 3 and plan["format_prompts"] == (3 + 1) + (2 + 1)
    assert plan["eval_sets"] == 1 and plan["evaluate_run"] == 35 + 2 and plan["eval_summary"] == 1
    assert plan["fertility_corpus"] == 1  # FLORES-200, the corpus of Petrov et al.'s premium table
    # each run's examples tokenized once, on a CPU, shared by its seeds: per model 10k, 100k and Guanaco
    # with both recipes, Llama-2's 1M, the twins'
    assert plan["tokenize_run"] == 2 * 3 * 2 + 1 + 2
    assert plan["vocab_extend"] == 2 and plan["vocab_curve"] == 1 and plan["vocab_compare"] == 1
    grid = planned_jobs(workflow, "--configfile", "config/paper.yaml", write_config(workflow, "grid.yaml", {"train": {"skip": []}}))
    assert grid["train_run"] == 48 + 2 and grid["evaluate_run"] == 50 + 2  # the full grid: one edit
    before_plan = planned_jobs(workflow, "plan", "--configfile", "config/paper.yaml")
    assert before_plan["plan"] == 1 and not {"model_weights", "train_run"} & set(before_plan)  # no GPU job
    controlled = planned_jobs(workflow, "--configfile", "config/paper.yaml", "config/controlled.yaml")
    assert controlled["train_run"] == 2 * 2 * 3 + 2 and controlled["evaluate_run"] == 2 * (1 + 2 * 3) + 2
    # one template for both models' runs (Samanantar's 10k, Guanaco); fertility.costs also keeps Mistral's
    assert controlled["format_prompts"] == 2 * 2
    sweep = planned_jobs(workflow, "--configfile", "config/sweep.yaml")
    assert sweep["train_run"] == 2 * 2 * 3 and sweep["evaluate_run"] == 1 + 12 and sweep["model_weights"] == 1


@pytest.mark.parametrize("overrides, message", [
    ({"samanantar": {"rows_per_shard": "many"}}, "config key samanantar.rows_per_shard: 'many' is not of type 'integer'"),
    ({"samanantar": {"source": "ftp"}}, "config key samanantar.source: 'ftp' is not one of"),
    ({"samanantar": {"lang": "xx"}}, "config key samanantar.lang: 'xx' is not one of"),
    ({"samanantar": {"source": "local", "path": "missing/dir"}}, "config key samanantar.path: directory missing/dir does not exist"),
    ({"guanaco": {"source": "local", "path": "nope.jsonl"}}, "config key guanaco.path: file nope.jsonl does not exist"),
    ({"evaluation": {"max_items": 0}}, "config key evaluation.max_items: 0 is less than the minimum of 1"),
    ({"evaluation": {"instructions": {"qa": {"en": "{passage}"}}}}, "config key evaluation.instructions.qa.en: bad placeholder"),
    ({"prompts": {"instructions": [{"lang": "en", "text": "Translate"}]}},
     "config key prompts.instructions[0].text: must contain {sentence}"),
    ({"samanantar": {"validation_fraction": float("nan")}}, "config key samanantar.validation_fraction: nan is not a finite"),
])
def test_bad_config_fails_before_any_job(workflow, overrides, message):
    proc = snakemake(workflow, "--cores", "1", "--configfile", write_config(workflow, "bad.yaml", overrides), check=False)
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr
    assert not (workflow / "results").exists()


def test_the_default_config_is_found_from_another_working_directory(workflow, tmp_path):
    """--directory elsewhere: config/config.yaml beside the Snakefile, not in the working directory."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = snakemake(tmp_path, "-s", str(workflow / "Snakefile"), "--directory", str(elsewhere), "-n", "--quiet", "rules")
    assert "samanantar_shards" in proc.stdout and "report" in proc.stdout
    assert not (workflow / "results").exists()


def test_mismatched_parallel_files_fail_naming_both_and_leave_no_shard(workflow):
    write_release(workflow / "corpus", "te", ["One.", "Two.", "Three."], ["ఒకటి.", "రెండు."])
    config = write_config(workflow, "local.yaml", {"samanantar": {"source": "local", "path": "corpus"}})
    proc = snakemake(workflow, "--cores", "1", "data", "--configfile", config, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "corpus/en-te/train.en has 3 lines but" in output and "corpus/en-te/train.te has 2" in output
    sam = workflow / "results" / "data" / "samanantar" / "en-te"
    assert not (sam / "shards").exists() and not (sam / "quality.json").exists()
    assert not list(sam.glob(".*tmp*")) if sam.exists() else True


def test_report_escapes_model_and_data_text(workflow):
    records = [{"text": "### Human: Show <script>alert('x')</script> please### Assistant: <b>no</b> & done"}]
    (workflow / "evil.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    config = write_config(workflow, "evil.yaml", {"guanaco": {"source": "local", "path": "evil.jsonl",
                                                              "validation_fraction": 0, "test_fraction": 0.99},
                                                  "report": {"examples": 3}, "train": {"models": []},
                                                  "fertility": {"tokenizers": ["llama2", "mistral"]}})
    snakemake(workflow, "--cores", "1", "--configfile", config)
    html = (workflow / "results" / "report.html").read_text()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<script>" not in html and "<b>no</b>" not in html
    assert '<section id="training">' not in html  # no model was trained


def test_default_run_builds_prompts_and_fertility(built_workflow):
    import pandas as pd

    results = built_workflow / "results"
    summary = pd.read_csv(results / "fertility" / "summary.csv")
    assert set(summary["tokenizer"]) == {"llama2", "mistral", "gemma3", "smollm2", TWIN[1]}
    assert (summary.loc[summary["lang"] == "en", "premium"] == 1).all()
    te = summary[summary["lang"] == "te"].set_index("tokenizer")
    # Llama-2 has one Telugu piece and falls back to bytes; Gemma 3 has a large Telugu vocabulary
    assert te.loc["llama2", "premium"] > te.loc["mistral", "premium"] > te.loc["gemma3", "premium"]
    assert te.loc["llama2", "byte_fallback_share"] > 0.8 and te.loc["gemma3", "byte_fallback_share"] < 0.01
    assert te.loc["llama2", "script_vocab_pieces"] == 1 and te.loc["mistral", "script_vocab_pieces"] == 11
    for template in ("llama2_study", "mistral_study"):
        train = pq.read_table(results / "prompts" / template / "samanantar" / "200" / "train.parquet")
        assert train.num_rows == 400  # the 200-pair subset, both directions
        assert set(train.column("instruction_lang").to_pylist()) == {"en", "te"}
    # the extended tokenizer spends fewer tokens on Telugu than its base, and the same on English
    assert te.loc[TWIN[1], "premium"] < te.loc["smollm2", "premium"] / 2
    en = summary[summary["lang"] == "en"].set_index("tokenizer")
    assert en.loc[TWIN[1], "tokens"] == en.loc["smollm2", "tokens"]
    costs = pd.read_csv(results / "fertility" / "costs.csv")
    # fertility.costs' Llama-2 and Mistral profiles and the trained models' (Gemma 3 in the Mistral
    # format, SmolLM2 and its twin in Llama-2's), x 6
    assert {"truncated_share", "tokens_p95"} <= set(costs.columns) and len(costs) == 5 * 6
    assert set(zip(costs["tokenizer"], costs["template"])) == {
        ("llama2", "llama2_study"), ("mistral", "mistral_study"), ("gemma3", "mistral_study"),
        ("smollm2", "llama2_study"), (TWIN[1], "llama2_study")}


def test_default_run_trains_each_model_on_its_datasets(built_workflow):
    train = built_workflow / "results" / "train"
    for model, adapter in RUNS.items():
        dataset, run = adapter.split("/")[0], train / model / adapter
        metrics = json.loads((run / "metrics.json").read_text())
        for key in ("train_loss", "eval_loss", "steps", "tokens_per_second", "peak_memory_bytes"):
            assert metrics[key] is not None, (model, dataset, key)
        # the steps of the run's config (tests/conftest.py: LIGHT); that the loss falls is tested on tiny models
        assert metrics["steps"] == LIGHT["training"]["max_steps"] and metrics["optimizer"] == "adamw_torch"
        assert (metrics["dataset"], metrics["recipe"], metrics["seed"]) == (dataset, "corrected", 42)
        assert metrics["eval_loss"] == metrics["eval_loss"] and metrics["eval_loss_before"] == metrics["eval_loss_before"]
        assert (run / "adapter" / "adapter_model.safetensors").exists()
        assert (run / "log_history.csv").read_text().startswith("step,loss,learning_rate,grad_norm,tokens_seen")
    assert not [p for p in (built_workflow / "results" / "checkpoints").rglob("*") if p.is_file()], \
        "checkpoints are removed after success"


def test_the_default_extends_smollm2s_vocabulary_and_measures_what_it_buys(built_workflow):
    results = built_workflow / "results"
    source = json.loads((built_workflow / "resources" / "tokenizers" / TWIN[1] / "source.json").read_text())
    ext = source["extension"]
    assert ext["base"] == "smollm2" and ext["kind"] == "byte_level" and ext["pieces"] == 400 and 0 < ext["added"] <= 400
    assert ext["text"]["sources"]["samanantar"]["read"] == 271 and ext["round_trip_sentences"] >= 330
    assert source["vocab_size"] == ext["first_new_id"] + ext["added"]
    # the twin's run trained its new rows: the adapter holds them, and its metrics say how many
    run = results / "train" / TWIN[0] / RUNS["smollm2_135m"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["new_rows"] == ext["added"] and metrics["examples_per_second"] > 0
    config = json.loads((run / "adapter" / "adapter_config.json").read_text())
    assert len(config["trainable_token_indices"]["embed_tokens"]) == ext["added"]
    comparison = pd.read_csv(results / "vocab" / "comparison.csv")
    runs, adapted = comparison[comparison["run"] != "adapt"], comparison[comparison["run"] == "adapt"]
    assert set(runs["twin"]) == {TWIN[0]} and set(runs["run"]) == {RUNS["smollm2_135m"]}
    # the adaptation (issue 23): each system against the untouched or adapted model, on the same items
    assert all("adapt" in m or "adapt" in t for m, t in zip(adapted["model"], adapted["twin"]))
    assert {"bits per character (te)", "bits per character (en)", "generated characters/s",
            "training sentences/s"} == set(adapted["measure"])
    claim = adapted[(adapted["model"] == "smollm2_135m adapted") & (adapted["twin"] == f"{TWIN[0]} adapted (mean)")]
    bits = claim.set_index("measure").loc["bits per character (te)"]
    assert bits["n"] == 4 and bits["base"] > 0 and bits["ci_low"] <= bits["diff"] <= bits["ci_high"]
    assert "the same 4 test sentences" in bits["method"]
    replays = []
    for init in ("none", "mean", "overlap"):
        model = "smollm2_135m" if init == "none" else TWIN[0]
        assert list((results / "adapt" / model / init / "model").glob("*.safetensors"))
        facts = json.loads((results / "adapt" / model / init / "adaptation.json").read_text())
        replays.append(facts["text"]["replay"])
        # the Telugu (tests/conftest.py: LIGHT cuts it) and its English replay
        assert facts["text"]["sentences"] == LIGHT["adapt"]["max_sentences"] + replays[-1]["sentences"]
    # English replay: the training split's English, a quarter of SmolLM2's tokens, the same mixture for all
    assert replays[0]["share_asked"] == 0.25 and 0.25 <= replays[0]["share"] < 0.3 and "short" not in replays[0]
    assert replays[0]["sources"]["samanantar"]["read"] == 271 and replays[0]["sentences"] > 10
    assert all(r == replays[0] for r in replays)
    rows = runs.set_index("measure")
    tokens = rows.loc["tokens per training example"]
    assert tokens["extended"] < tokens["base"] / 2 and tokens["ci_high"] < 0 and tokens["n"] == 400
    assert {"training examples/s", "training non-padding tokens/s", "generated characters/s",
            "share of training examples over max_length 512"} <= set(rows.index)
    curve = pd.read_csv(results / "vocab" / "curve.csv")
    assert list(curve["pieces"]) == [0, 100, 200, 300, 400]
    assert curve["premium"].is_monotonic_decreasing and curve["premium"].iloc[-1] < curve["premium"].iloc[0] / 2
    html = (results / "report.html").read_text()
    assert "Vocabulary extension" in html and "before and after" in html and TWIN[1] in html
    assert "<th>English replay</th>" in html and f'<td class="num">{replays[0]["share"]:.0%}</td>' in html
