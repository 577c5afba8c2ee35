# Config checking, paths and input functions shared by the rules.
import json
import sys
from pathlib import Path
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError

WORKFLOW_DIR = Path(workflow.basedir)
sys.path.insert(0, str(WORKFLOW_DIR / "src"))

from telugu_llm.adapt.run import settings_of as adapt_settings_of, system_names  # noqa: E402
from telugu_llm.config import (  # noqa: E402
    EXTRA_RUN_RECIPE, active_models, check_config, check_given_entries, names_pattern, read_config_file)
from telugu_llm.extended import extended_tokenizers  # noqa: E402
from telugu_llm.errors import InputError  # noqa: E402
from telugu_llm.evaluation.settings import GenerationSettings  # noqa: E402
from telugu_llm.imports import package_modules  # noqa: E402
from telugu_llm.jobsize import decoder_parameters, job_minutes, job_retries, weights_mem_mb  # noqa: E402
from telugu_llm.plan.grid import check_estimate, check_skip, fingerprint, planned_runtime, skipped  # noqa: E402
from telugu_llm.settings import field_names  # noqa: E402
from telugu_llm.train.settings import ALL, MODEL_KEYS, recipe_of  # noqa: E402
from telugu_llm.train.tokenized import TOKENIZATION_FIELDS  # noqa: E402
from telugu_llm.train.weights import RANDOM_SHAPES  # noqa: E402

SCHEMA = WORKFLOW_DIR / "config" / "schema.yaml"
try:
    # the schema (a message naming the key, before any job; fills in its defaults), then the rules
    # across keys and the files the config names
    # what the user gave: each --configfile (read again, refusing octal-looking numbers) and --config
    GIVEN = [(f"config file {path}", read_config_file(path)) for path in workflow.overwrite_configfiles or []]
    GIVEN += [("--config", workflow.config_settings.overwrite_config or {})]
    check_config(config, SCHEMA)
    check_given_entries(config, GIVEN)
except InputError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None

# a name (schema $defs/name) as a wildcard: unbounded, for the extended names (<model>_<lang><pieces>)
NAME = r"[A-Za-z0-9_][A-Za-z0-9_.]*"
PACKAGE = WORKFLOW_DIR / "src" / "telugu_llm"
MODELS = active_models(config)
# each extended model (vocab.extend) that is trained, with the model it extends
TWINS = {m: config["models"][m]["extends"] for m in MODELS if config["models"][m].get("extends")}
LANG = config["samanantar"]["lang"]
SAMANANTAR_DIR = f"results/data/samanantar/en-{LANG}"
GUANACO_DIR = "results/data/guanaco"
EMBEDDED_SAMANANTAR = WORKFLOW_DIR / "data" / "samanantar"
EMBEDDED_GUANACO = WORKFLOW_DIR / "data" / "guanaco" / "guanaco.jsonl"


def canonical(value):
    """A config value with its keys sorted, so that params compare equal whatever the key order of
    the file they came from (Snakemake compares params as written)."""
    return json.loads(json.dumps(value, sort_keys=True))


def code(script):
    """Every package module that a rule's script imports, directly or not, as inputs, so that editing
    one re-runs the job; computed from the imports (telugu_llm.imports), never listed by hand."""
    return [str(p) for p in package_modules(WORKFLOW_DIR / "scripts" / script)]


def section(name, *without):
    """A config section as a rule's params, without the keys the rule does not depend on."""
    return canonical({k: v for k, v in config[name].items() if k not in without})


def samanantar_root():
    source = config["samanantar"]["source"]
    if source == "embedded":
        return str(EMBEDDED_SAMANANTAR)
    return config["samanantar"]["path"] if source == "local" else None


def samanantar_files(wildcards):
    root = samanantar_root()
    if root is None:
        return {}
    folder = Path(root) / f"en-{LANG}"
    return {"src": str(folder / "train.en"), "tgt": str(folder / f"train.{LANG}")}


def guanaco_path():
    source = config["guanaco"]["source"]
    if source == "embedded":
        return str(EMBEDDED_GUANACO)
    return config["guanaco"]["path"] if source == "local" else None


def guanaco_files(wildcards):
    path = guanaco_path()
    return {} if path is None else {"records": path}


def subset_dirs():
    return expand(f"{SAMANANTAR_DIR}/subsets/{{size}}", size=sorted(config["samanantar"]["subsets"]))


# --- tokenizers, templates, prompts, fertility ------------------------------------------------
TOKENIZER_DIR = "resources/tokenizers"
PROMPTS_DIR = "results/prompts"
FERTILITY_DIR = "results/fertility"


# Tokenizers retrieved (the tokenizer rule) and extended by the vocabulary stage (vocab_extend): one
# pattern each, so that no folder name can be made by both.
EXTENDED_TOKENIZERS = extended_tokenizers(config)


BASE_TOKENIZER_RE = names_pattern(config["tokenizers"])
EXTENDED_TOKENIZER_RE = names_pattern(EXTENDED_TOKENIZERS)
# every tokenizer the fertility stage analyses: fertility.tokenizers and each extended one, beside its base
FERTILITY_TOKENIZERS = list(dict.fromkeys([*config["fertility"]["tokenizers"],
                                           *(t for name in EXTENDED_TOKENIZERS
                                             for t in (EXTENDED_TOKENIZERS[name]["base_tokenizer"], name))]))


def vocab_text_inputs():
    """Samanantar's shards (the text, the held-out sentences, the checks) and the inputs of the
    other vocab.sources."""
    vocab = config["vocab"]
    inputs = {"shards": rules.samanantar_shards.output.shards}
    if vocab["samanantar_subset"] is not None and "samanantar" in vocab["sources"]:
        inputs["subset"] = f"{SAMANANTAR_DIR}/subsets/{vocab['samanantar_subset']}"
    if "guanaco" in vocab["sources"]:
        inputs["guanaco"] = rules.guanaco_shards.output.shards
    if "file" in vocab["sources"]:
        inputs["text"] = vocab["text_path"]
    return inputs


VOCAB_LEARNED_DIR = "resources/vocab/learned"


def vocab_bases():
    """Each base tokenizer that is extended, with the vocab.extend key of (one of) its extensions."""
    return {ext["base_tokenizer"]: f"vocab.extend.{ext['model']}.pieces"
            for _, ext in sorted(EXTENDED_TOKENIZERS.items(), reverse=True)}


def vocab_learned_pieces():
    """The size every learner is trained at once: the largest any extension or curve point asks for."""
    return max([ext["pieces"] for ext in EXTENDED_TOKENIZERS.values()] + list(config["vocab"]["curve"]), default=1)


def vocab_learn_inputs(wildcards):
    return {**{f"base_{b}": f"{TOKENIZER_DIR}/{b}" for b in sorted(vocab_bases())}, **vocab_text_inputs()}


def vocab_inputs(wildcards):
    """An extended tokenizer's base tokenizer, the learned models and what it is checked on."""
    base = EXTENDED_TOKENIZERS[wildcards.tokenizer]["base_tokenizer"]
    return {"base": f"{TOKENIZER_DIR}/{base}", "learned": VOCAB_LEARNED_DIR,
            **{k: v for k, v in vocab_text_inputs().items() if k != "subset"}}


def vocab_curve_inputs(wildcards):
    bases = sorted({ext["base_tokenizer"] for ext in EXTENDED_TOKENIZERS.values()})
    return {**{f"base_{b}": f"{TOKENIZER_DIR}/{b}" for b in bases},
            **{f"extended_{name}": f"{TOKENIZER_DIR}/{name}" for name in EXTENDED_TOKENIZERS},  # its own size, built
            "learned": VOCAB_LEARNED_DIR, "shards": rules.samanantar_shards.output.shards}


def vocab_compare_runs(wildcards):
    """Each run of each extended model (TWINS) with the same run of the model it extends."""
    out = []
    for twin, model in sorted(TWINS.items()):
        for run in train_runs(twin):
            path = RUN.format(**run).split("/", 1)[1]
            out.append({"model": model, "twin": twin, "run": path, "max_length": config["models"][twin]["max_length"],
                        "dataset": run["dataset"], "subset": run["subset"], "evaluated": EVAL["enabled"]})
    return out


def vocab_compare_inputs(wildcards):
    inputs = {}
    for n, run in enumerate(vocab_compare_runs(wildcards)):
        for side, model in (("base", run["model"]), ("twin", run["twin"])):
            inputs[f"tokenizer_{n}_{side}"] = f"{TOKENIZER_DIR}/{config['models'][model]['tokenizer']}"
            inputs[f"train_{n}_{side}"] = f"{TRAIN_DIR}/{model}/{run['run']}/metrics.json"
            if run["evaluated"]:
                inputs[f"eval_{n}_{side}"] = f"{EVAL_DIR}/{model}/{run['run']}/metrics.json"
                inputs[f"generations_{n}_{side}"] = f"{EVAL_DIR}/{model}/{run['run']}/generations.parquet"
        inputs[f"prompts_{n}"] = prompt_dir(model_template_key(run["twin"]), run["dataset"], run["subset"])
    for path in adapt_measures():
        model = Path(path).parent.name
        inputs[f"adapt_{model}"] = path
        inputs[f"adapt_items_{model}"] = path.replace("measures.json", "measures.parquet")
    return inputs


def vocab_compare_adaptations():
    """Each adapted model with its extended twin (vocab_compare's params)."""
    return [{"model": base, "twin": twin} for twin, base in sorted(TWINS.items())] if ADAPT["enabled"] else []


def vocab_report_inputs(wildcards):
    """The vocabulary section's files; none without an extended model that is trained."""
    if not TWINS:
        return {}
    return {"vocab_adaptation": adapt_measures(),
            "vocab_comparison": rules.vocab_compare.output.table, "vocab_curve": rules.vocab_curve.output.table,
            "vocab_curve_figure": rules.vocab_curve.output.figure,
            "vocab_tokenizers": [f"{TOKENIZER_DIR}/{config['models'][t]['tokenizer']}" for t in sorted(TWINS)],
            "vocab_examples": [f"{FERTILITY_DIR}/tokenizers/{config['models'][m]['tokenizer']}.json"
                               for t in sorted(TWINS) for m in (TWINS[t], t)]}


def template_key(template, tokenizer):
    """Prompts of the study's templates are shared by every model; a chat template is its tokenizer's."""
    return f"chat_template-{tokenizer}" if template == "chat_template" else template


def parse_template_key(key):
    template, _, tokenizer = key.partition("-")
    return template, (tokenizer or None)


def cost_profiles():
    """(tokenizer, template key) -> sorted maximum lengths, from every model and fertility.costs."""
    profiles = {}
    entries = [config["models"][m] for m in MODELS] + list(config["fertility"]["costs"])
    for entry in entries:
        key = (entry["tokenizer"], template_key(entry["template"], entry["tokenizer"]))
        profiles.setdefault(key, set()).add(entry["max_length"])
    return {key: sorted(lengths) for key, lengths in sorted(profiles.items())}


def prompts_subset(dataset):
    """The training subset of a dataset's prompts in the template examples and costs: Samanantar's
    prompts.samanantar_train_subset, all of Guanaco."""
    subset = config["prompts"]["samanantar_train_subset"] if dataset == "samanantar" else None
    return ALL if subset is None else str(subset)


def prompt_dir(key, dataset, subset=None):
    return f"{PROMPTS_DIR}/{key}/{dataset}/{prompts_subset(dataset) if subset is None else subset}"


def prompt_dirs():
    keys = sorted({key for _, key in cost_profiles()})
    return [prompt_dir(key, dataset) for key in keys for dataset in config["prompts"]["datasets"]]


def prompt_inputs(wildcards):
    _, tokenizer = parse_template_key(wildcards.template_key)
    inputs = {}
    if wildcards.dataset == "samanantar":
        inputs["shards"] = rules.samanantar_shards.output.shards
        if wildcards.subset != ALL:
            inputs["subset"] = f"{SAMANANTAR_DIR}/subsets/{wildcards.subset}"
    else:
        inputs["shards"] = rules.guanaco_shards.output.shards
    if tokenizer:
        inputs["tokenizer"] = f"{TOKENIZER_DIR}/{tokenizer}"
    return inputs


def samanantar_prompt_params(wildcards):
    """The formatting settings of Samanantar; none for Guanaco, so that editing them re-runs only
    the Samanantar prompts."""
    if wildcards.dataset != "samanantar":
        return {}
    p = config["prompts"]
    return canonical({"lang": LANG, "instructions": p["instructions"], "directions": p["directions"], "seed": p["seed"]})


def cost_csvs():
    return [f"{FERTILITY_DIR}/costs/{tok}/{key}.csv" for tok, key in cost_profiles()]


def cost_prompt_dirs(wildcards):
    return [prompt_dir(wildcards.template_key, dataset) for dataset in config["prompts"]["datasets"]]


CORPUS_DIR = "resources/corpora"


def fertility_corpus_files(wildcards):
    """Each extra corpus's files, or the resource folder a hub corpus is retrieved into."""
    out = []
    for c in config["fertility"]["corpora"]:
        out += [c["src"], c["tgt"]] if c["source"] == "file" else [f"{CORPUS_DIR}/{c['name']}"]
    return out


def corpus_spec(wildcards):
    index, spec = next((i, c) for i, c in enumerate(config["fertility"]["corpora"]) if c["name"] == wildcards.corpus)
    return canonical({"index": index, "spec": spec})


# --- models and training ------------------------------------------------------------------------
MODEL_DIR = "resources/models"
TRAIN_DIR = "results/train"


def weights_dir(model):
    """The weights resource of a model: an extended model reads the weights of the model it extends,
    or with adapt.instruction_tuning its adaptation with the first of adapt.inits (the model it
    extends keeps its own weights: its runs are the study's)."""
    if ADAPT["instruction_tuning"] and model in ADAPTED and model in TWINS:
        return f"{adapt_dir(model, ADAPTED[model])}/model"
    return f"{MODEL_DIR}/{config['models'][model].get('extends') or model}"


# --- adaptation (rules/adapt.smk) ------------------------------------------------------------------
ADAPT = config["adapt"]
ADAPT_DIR = "results/adapt"
# each adapted model with its initialisation: each extended model that is trained with the first of
# adapt.inits (the one its instruction tuning starts from), the model it extends with none
ADAPTED = ({**{twin: ADAPT["inits"][0] for twin in TWINS}, **{base: "none" for base in TWINS.values()}}
           if ADAPT["enabled"] else {})


def adapt_dir(model, init):
    return f"{ADAPT_DIR}/{model}/{init}"


def adapt_settings():
    """What an adaptation depends on in the config (adapt_run's params: an edit re-runs it)."""
    return canonical(adapt_settings_of(ADAPT, device=config["train"]["device"]))


REPLAY = ADAPT["replay"] if ADAPT["replay"]["share"] else {"share": 0}  # its sources matter only with a share
REPLAY_SOURCES = REPLAY["sources"] if REPLAY["share"] else []


def adapt_text_inputs():
    inputs = {"shards": f"{SAMANANTAR_DIR}/shards"}
    if "guanaco" in ADAPT["sources"] or "guanaco" in REPLAY_SOURCES:
        inputs["guanaco"] = f"{GUANACO_DIR}/shards"
    if "file" in ADAPT["sources"]:
        inputs["text"] = ADAPT["text_path"]
    if "file" in REPLAY_SOURCES:
        inputs["replay_text"] = REPLAY["text_path"]
    return inputs


def adapt_budget(wildcards):
    """adapt.budget of an extended model's adaptation (None for the base's, which a budget edit
    does not re-run)."""
    return ADAPT["budget"] if config["models"][wildcards.model].get("extends") else None


def adapt_run_inputs(wildcards):
    base = config["models"][wildcards.model].get("extends")
    inputs = {"model": f"{MODEL_DIR}/{base or wildcards.model}",
              "tokenizer": f"{TOKENIZER_DIR}/{config['models'][wildcards.model]['tokenizer']}", **adapt_text_inputs()}
    if base and (ADAPT["budget"] == "tokens" or REPLAY["share"]):  # the base's rows and replay share, counted with its tokenizer
        inputs["base_tokenizer"] = f"{TOKENIZER_DIR}/{config['models'][base]['tokenizer']}"
    return inputs


def adapt_systems(model):
    """The systems adapt_measure measures for a model with an extended twin (evaluation/adaptation.py)."""
    twin = next(t for t, base in sorted(TWINS.items()) if base == model)
    tokenizers = {"base_tokenizer": config["models"][model]["tokenizer"], "twin_tokenizer": config["models"][twin]["tokenizer"]}
    names = system_names(model, twin, ADAPT["inits"])
    systems = [{"name": names["untouched"], "model_input": "weights", "tokenizer_input": "base_tokenizer"},
               {"name": names["adapted"], "model_input": "adapted_none", "tokenizer_input": "base_tokenizer",
                "adaptation_input": "adaptation_none"}]
    for init in ADAPT["inits"]:
        systems += [{"name": names[f"twin_adapted_{init}"], "model_input": f"adapted_{init}",
                     "tokenizer_input": "twin_tokenizer", "init": init, "adaptation_input": f"adaptation_{init}"},
                    {"name": names[f"twin_initialised_{init}"], "model_input": "weights",
                     "tokenizer_input": "twin_tokenizer", "init": init}]
    return twin, tokenizers, systems


def adapt_measure_inputs(wildcards):
    twin, tokenizers, _ = adapt_systems(wildcards.model)
    inputs = {"shards": f"{SAMANANTAR_DIR}/shards", "weights": f"{MODEL_DIR}/{wildcards.model}",
              **{key: f"{TOKENIZER_DIR}/{name}" for key, name in tokenizers.items()},
              "adapted_none": f"{adapt_dir(wildcards.model, 'none')}/model",
              "adaptation_none": f"{adapt_dir(wildcards.model, 'none')}/adaptation.json"}
    for init in ADAPT["inits"]:
        inputs[f"adapted_{init}"] = f"{adapt_dir(twin, init)}/model"
        inputs[f"adaptation_{init}"] = f"{adapt_dir(twin, init)}/adaptation.json"
    return inputs


def adapt_measures():
    """Each model's adaptation measures (none unless adapt.enabled)."""
    return [f"{ADAPT_DIR}/{base}/measures.json" for base in sorted(set(TWINS.values()))] if ADAPT["enabled"] else []


def model_template_key(model):
    spec = config["models"][model]
    return template_key(spec["template"], spec["tokenizer"])


def run_settings(wildcards):
    """Everything a training run depends on in the config (so that any edit re-runs it): the keys of
    train.settings.RunSettings but the wildcards and the device; the run's seed in its training."""
    spec = config["models"][wildcards.model]
    values = {key: spec[key] for key in MODEL_KEYS}
    values["training"] = {**values["training"], "seed": int(wildcards.seed)}
    return canonical({**values, "processes": spec["resources"]["processes"],
                      "recipe": recipe_of(config, wildcards.model, wildcards.recipe)})


TOKENIZED_DIR = "results/tokenized"
# A run's tokenized examples: shared by its seeds (the sample of a capped split is drawn with prompts.seed)
RUN_DATA = "{model}/{dataset}/{recipe}/{subset}"


def tokenize_settings(wildcards):
    """What a run's tokenized examples depend on: the template, the length, the recipe's choices that
    make examples (not packing or precision: the trainer's), the caps on examples and the seed of
    their sample."""
    spec = config["models"][wildcards.model]
    recipe = recipe_of(config, wildcards.model, wildcards.recipe)
    return canonical({"template": spec["template"], "max_length": spec["max_length"],
                      "recipe": {key: recipe[key] for key in TOKENIZATION_FIELDS},
                      "max_train_examples": spec["training"]["max_train_examples"],
                      "max_eval_examples": spec["training"]["max_eval_examples"], "seed": config["prompts"]["seed"]})


def tokenize_partners(wildcards):
    """The tokenizer of the other side of a model's vocabulary pair (its extended twin, or the model a
    twin extends): every run of either keeps only the examples both tokenizers keep (train/tokenized.py),
    so that a twin and its base train on the same examples and a model's own runs stay alike; none for
    a model without a twin, whose examples are as before."""
    m = wildcards.model
    others = [TWINS[m]] if m in TWINS else [twin for twin, base in sorted(TWINS.items()) if base == m]
    return [f"{TOKENIZER_DIR}/{config['models'][other]['tokenizer']}" for other in others]


def model_resource(key):
    """A resource of the model's job, from models.<model>.resources."""
    return lambda wildcards: config["models"][wildcards.model]["resources"][key]


def model_threads(wildcards):
    """CPU cores of a training or evaluation job: models.<model>.resources.cpus, not all of
    --cores, so that jobs run side by side (Snakemake lowers it to --cores where that is less)."""
    return config["models"][wildcards.model]["resources"]["cpus"]


def eval_threads(wildcards):
    """CPU cores of an evaluation job: one process, so one training process's share of
    models.<model>.resources.cpus (cpus / processes, at least 1)."""
    resources = config["models"][wildcards.model]["resources"]
    return max(1, resources["cpus"] // resources["processes"])


def train_gpus(wildcards):
    """GPUs of a training job: one per process on a GPU, none on a CPU."""
    return config["models"][wildcards.model]["resources"]["processes"] if config["train"]["device"] == "cuda" else 0


def model_parameters(model):
    """The model's parameters in billions: models.<model>.resources.parameters, else counted from
    the shape of `random` weights (vocabulary of Llama-2's 32,000), else 1."""
    spec = config["models"][model]
    if spec["resources"]["parameters"] is not None:
        return spec["resources"]["parameters"]
    weights = spec["weights"] or {}
    if weights.get("source") == "random" and weights["size"] in RANDOM_SHAPES.get(weights["architecture"], {}):
        return decoder_parameters(RANDOM_SHAPES[weights["architecture"]][weights["size"]], 32000)
    return 1.0


def weights_memory(wildcards):
    """Memory of a model_weights job, in proportion to the model's parameters (jobsize.weights_mem_mb)."""
    return weights_mem_mb(model_parameters(wildcards.model))


def train_runtime(wildcards, attempt):
    """A training job's wall-time, the same at every attempt: its run's planned minutes, at most
    train.max_job_minutes (the cluster's limit); a longer run goes on in the next attempt, from its
    checkpoint (train_retries)."""
    return job_minutes(planned_minutes(wildcards), config["train"]["max_job_minutes"])


def eval_runtime(wildcards):
    """An evaluation job's wall-time: models.<model>.resources.runtime, at most train.max_job_minutes."""
    return job_minutes(config["models"][wildcards.model]["resources"]["runtime"], config["train"]["max_job_minutes"])


def train_retries():
    """Retries of training jobs: as many as the longest planned run needs under
    train.max_job_minutes, plus one (jobsize.job_retries); none without a limit."""
    runs = [planned_minutes(SimpleNamespace(**run)) for run in train_runs()]
    return job_retries(runs, config["train"]["max_job_minutes"])


# A training run's path under TRAIN_DIR (and an evaluation's adapter under its model): every
# dimension of the run.
RUN = "{model}/{dataset}/{recipe}/{subset}/seed{seed}"


def training_subsets(dataset):
    """The subsets a dataset is trained on: train.subsets for Samanantar (default: the prompts'
    subset), all of Guanaco."""
    if dataset == "samanantar" and config["train"]["subsets"] is not None:
        return [str(size) for size in sorted(config["train"]["subsets"])]
    return [prompts_subset(dataset)]


def seeds(model):
    return config["train"]["seeds"] or [config["models"][model]["training"]["seed"]]


def model_datasets(model):
    """The datasets a model is trained on in every combination: models.<name>.datasets, or all of
    prompts.datasets."""
    chosen = config["models"][model]["datasets"]
    return config["prompts"]["datasets"] if chosen is None else chosen


def twin_trains(model, dataset, recipe, subset, seed):
    """Whether a run of the dimensions is one of an extended model's (vocab.datasets, recipes,
    subsets, seeds); every run of any other model."""
    if not config["models"][model].get("extends"):
        return True
    vocab = config["vocab"]
    return (dataset in vocab["datasets"] and (vocab["recipes"] is None or recipe in vocab["recipes"])
            and (vocab["subsets"] is None or dataset != "samanantar" or int(subset) in vocab["subsets"])
            and (vocab["seeds"] is None or seed in vocab["seeds"]))


def extra_run_defaults(model, dataset):
    """What an extra run does not name: fixed values, so that reordering or extending train.recipes
    or train.seeds never moves an extra run (config.EXTRA_RUN_RECIPE)."""
    return {"recipe": EXTRA_RUN_RECIPE, "subset": prompts_subset(dataset),
            "seed": config["models"][model]["training"]["seed"]}


def skip_values():
    """What train.skip may name: every model, dataset, recipe and built subset the config defines (a
    second config file may train fewer of them than the first's skip names); any seed."""
    return {"model": set(config["models"]), "dataset": {"samanantar", "guanaco"}, "recipe": set(config["recipes"]),
            "subset": {ALL, *(str(size) for size in config["samanantar"]["subsets"])}, "seed": None}


def train_runs(model=None):
    """Every training run, as wildcards of RUN (of one model, if given): every combination of the
    dimensions, then each model's extra_runs (each run once)."""
    runs = [{"model": m, "dataset": d, "recipe": r, "subset": s, "seed": seed}
            for m in MODELS for d in model_datasets(m)
            for r in config["train"]["recipes"] for s in training_subsets(d) for seed in seeds(m)
            if twin_trains(m, d, r, s, seed)
            and not skipped({"model": m, "dataset": d, "recipe": r, "subset": s, "seed": seed}, config["train"]["skip"])]
    for m in MODELS:
        for extra in config["models"][m]["extra_runs"]:
            run = {"model": m, "dataset": extra["dataset"], **extra_run_defaults(m, extra["dataset"]),
                   **{key: str(value) if key == "subset" else value for key, value in extra.items() if key != "dataset"}}
            if run not in runs:
                runs.append(run)
    return [run for run in runs if model is None or run["model"] == model]


try:
    check_skip(config["train"]["skip"], skip_values())
    check_estimate(config["plan"]["estimate"], config["samanantar"]["subsets"])
except InputError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None

# --- the cost plan (rules/plan.smk) ----------------------------------------------------------------
PLAN = config["plan"]
PLAN_DIR = "results/plan"
PLAN_COST = f"{PLAN_DIR}/cost.csv"


def plan_prompts(run):
    """The prompts a run's tokens per example are measured on: its own, or under plan.estimate (a plan
    made before the data is at its size) those of plan.estimate.samanantar_subset for Samanantar."""
    estimate = PLAN["estimate"]
    subset = str(estimate["samanantar_subset"]) if estimate and run["dataset"] == "samanantar" else run["subset"]
    return prompt_dir(model_template_key(run["model"]), run["dataset"], subset)


def plan_runs():
    """Every training run (train_runs) with what its plan needs: settings, prompts, tokenizer."""
    out = []
    for run in train_runs():
        spec = config["models"][run["model"]]
        settings = run_settings(SimpleNamespace(**run))
        out.append({**run, "name": RUN.format(**run), "settings": settings, "fingerprint": fingerprint(settings),
                    "architecture": spec["weights"].get("architecture"), "prompts": plan_prompts(run),
                    "tokenizer": f"{TOKENIZER_DIR}/{spec['tokenizer']}", "twin": bool(spec.get("extends"))})
    return out


def plan_inputs(wildcards):
    runs = plan_runs()
    return {"prompts": sorted({run["prompts"] for run in runs}), "tokenizers": sorted({run["tokenizer"] for run in runs})}


def planned_minutes(wildcards):
    """A training run's planned wall-time in minutes: its planned hours (results/plan/cost.csv, once
    `snakemake plan` has run for this config) times plan.margin; models.<name>.resources.runtime
    without a plan, with a plan of other settings, or off a GPU (the plan is of plan.gpu's hours: a
    CPU run takes far longer)."""
    if config["train"]["device"] != "cuda":
        return config["models"][wildcards.model]["resources"]["runtime"]
    return planned_runtime(PLAN_COST, {key: getattr(wildcards, key) for key in ("model", "dataset", "recipe", "subset", "seed")},
                           fingerprint(run_settings(wildcards)), margin=PLAN["margin"],
                           fallback=config["models"][wildcards.model]["resources"]["runtime"])


def train_outputs():
    return [f"{TRAIN_DIR}/{RUN.format(**run)}/metrics.json" for run in train_runs()]


def training_report_inputs(wildcards):
    """The training section's files; none when no model is trained (train.models: [])."""
    if not MODELS:
        return {}
    return {"training_summary": rules.training_summary.output.table,
            "training_loss": rules.training_summary.output.figure_loss,
            "learning_rate": rules.training_summary.output.figure_lr}


# --- evaluation ---------------------------------------------------------------------------------
EVAL_DIR = "results/eval"
EVAL_SETS_DIR = "results/evalsets"
EVAL = config["evaluation"]


def eval_set_inputs(wildcards):
    inputs = {}
    root = Path(EVAL["sets_path"]) if EVAL["sets_path"] else WORKFLOW_DIR / "data" / "eval"
    if EVAL["embedded"]:
        inputs["embedded"] = sorted(str(p) for p in root.rglob("*.jsonl") if p.name != "study_probes.jsonl")
    if EVAL["samanantar_test"]:
        inputs["samanantar"] = rules.samanantar_shards.output.shards
    if EVAL["study_probes"]:
        inputs["probes"] = str(WORKFLOW_DIR / "data" / "eval" / "study_probes.jsonl")
    return inputs


def eval_set_params():
    keys = ("embedded", "samanantar_test", "study_probes", "sets_path", "hub", "hub_max_rows", "max_candidates", "seed",
            "instructions")
    return canonical({"lang": LANG, **{k: EVAL[k] for k in keys}})


def eval_settings():
    """What generation and scoring depend on (not the sets: those are an input; not the bootstrap:
    only the summary computes intervals, so editing it re-runs no generation)."""
    return canonical({k: EVAL[k] for k in field_names(GenerationSettings)})


def eval_model_params(wildcards):
    """The model's settings that evaluation depends on: its template and how it is loaded."""
    spec = config["models"][wildcards.model]
    return canonical({key: spec[key] for key in ("template", "probe_template", "quantization")})


def eval_inputs(wildcards):
    inputs = {"model": weights_dir(wildcards.model),
              "tokenizer": f"{TOKENIZER_DIR}/{config['models'][wildcards.model]['tokenizer']}",
              "sets": EVAL_SETS_DIR}
    if wildcards.adapter != "base":
        inputs["adapter"] = f"{TRAIN_DIR}/{wildcards.model}/{wildcards.adapter}/adapter"
    return inputs


def eval_adapters(model):
    """`base` (unless models.<name>.evaluate_base is false) and the path of every training run of the
    model under it. An extended model has no
    `base` evaluation: untrained, its new rows are only their initialisation; its runs are compared
    with the same runs of the model it extends (contrasts.csv, dimension `vocabulary`)."""
    runs = [RUN.format(**run).split("/", 1)[1] for run in train_runs(model)]
    spec = config["models"][model]
    return ["base", *runs] if spec["evaluate_base"] and not spec.get("extends") else runs


def eval_outputs():
    return [f"{EVAL_DIR}/{model}/{adapter}/generations.parquet" for model in MODELS for adapter in eval_adapters(model)]


def eval_report_inputs(wildcards):
    """The evaluation section's files; none when evaluation is off or no model is selected."""
    if not MODELS or not EVAL["enabled"]:
        return {}
    return {"eval_summary": rules.eval_summary.output.summary,
            "eval_differences": rules.eval_summary.output.differences,
            "eval_coverage": rules.eval_summary.output.coverage,
            "eval_contrasts": rules.eval_summary.output.contrasts,
            "eval_seeds": rules.eval_summary.output.seeds,
            "eval_figure": rules.eval_summary.output.figure,
            "eval_figure_size": rules.eval_summary.output.figure_size,
            "eval_generations": eval_outputs()}


def all_cores():
    """Threads of the training and evaluation jobs: every core of a local run (--cores). A cluster
    run has no total; there the profile's set-threads decides (profiles/slurm), else 1."""
    try:
        return workflow.cores
    except WorkflowError:
        return 1
