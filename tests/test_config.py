import copy
from pathlib import Path

import pytest
import yaml

from telugu_llm.config import check_config, check_schema
from telugu_llm.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "config" / "schema.yaml"
DEFAULT = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def with_value(dotted: str, value):
    config = copy.deepcopy(DEFAULT)
    *parents, last = dotted.split(".")
    node = config
    for key in parents:
        node = node[key]
    node[last] = value
    return config


def test_default_config_is_valid():
    check_config(copy.deepcopy(DEFAULT), SCHEMA)


def test_every_schema_key_has_a_description_and_a_default():
    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            assert "description" in sub, f"{path}{name} has no description"
            assert "default" in sub, f"{path}{name} has no default"
            walk(sub, f"{path}{name}.")
    schema = yaml.safe_load(SCHEMA.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    walk(schema, "")
    for definition in schema["$defs"].values():
        for name, sub in definition.get("properties", {}).items():  # $defs/name is a string
            assert "description" in sub, name


def test_config_readme_documents_every_key():
    readme = (REPO / "config" / "README.md").read_text()

    def walk(node, path):
        for name, sub in node.get("properties", {}).items():
            if "properties" not in sub:
                assert f"`{path}{name}`" in readme, f"config/README.md does not document {path}{name}"
            walk(sub, f"{path}{name}.")
    schema = yaml.safe_load(SCHEMA.read_text())
    walk(schema, "")
    walk(schema["$defs"]["tokenizer"], "tokenizers.<name>.")
    walk(schema["$defs"]["model"], "models.<name>.")


def test_config_readme_states_the_embedded_default_where_it_differs_from_the_schema():
    """Issue 21, point 8: where config/config.yaml (the embedded default) sets a plain value other
    than the schema's default, the key's row in config/README.md gives config.yaml's value too."""
    import re

    readme = (REPO / "config" / "README.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `([\w.<>]+)` \| (.*?) \|", readme, re.M)}
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    wrong = []

    def walk(node, values, path):
        for name, sub in node.get("properties", {}).items():
            if name not in values:
                continue
            if "properties" in sub and isinstance(values[name], dict):
                walk(sub, values[name], f"{path}{name}.")
            elif isinstance(values[name], (bool, int, float, str)) and "default" in sub and values[name] != sub["default"]:
                shown = yaml.safe_dump(values[name], default_flow_style=True).strip().removesuffix("...").strip()
                if f"`{shown}`" not in rows.get(f"{path}{name}", ""):
                    wrong.append(f"{path}{name}: config.yaml has {shown}, README says {rows.get(path + name)}")
    walk(yaml.safe_load(SCHEMA.read_text()), config, "")
    assert not wrong, wrong


@pytest.mark.parametrize("key, value, message", [
    ("samanantar.rows_per_shard", "many", "config key samanantar.rows_per_shard: 'many' is not of type 'integer'"),
    ("samanantar.source", "ftp", "config key samanantar.source: 'ftp' is not one of"),
    ("samanantar.lang", "xx", "config key samanantar.lang: 'xx' is not one of"),
    ("guanaco.source", 3, "config key guanaco.source: 3 is not of type 'string'"),
    ("samanantar.subsets", [10, 10], "config key samanantar.subsets: [10, 10] has non-unique elements"),
    ("samanantar.subsetz", [10], "config key samanantar.subsetz: unknown key"),
])
def test_schema_errors_name_the_key(key, value, message):
    with pytest.raises(InputError) as err:
        check_schema(with_value(key, value), SCHEMA)
    assert message in str(err.value)


def test_input_checks_name_the_key_and_path(tmp_path):
    with pytest.raises(InputError, match="samanantar.path: required when samanantar.source is 'local'"):
        check_config(with_value("samanantar.source", "local"))
    config = with_value("samanantar.source", "local")
    config["samanantar"]["path"] = str(tmp_path / "nowhere")
    with pytest.raises(InputError, match=f"samanantar.path: directory {tmp_path / 'nowhere'} does not exist"):
        check_config(config)
    config["samanantar"]["path"] = str(tmp_path)
    with pytest.raises(InputError, match=r"en-te/train.en does not exist"):
        check_config(config)
    with pytest.raises(InputError, match="samanantar.lang: the embedded sample has only en-te"):
        check_config(with_value("samanantar.lang", "hi"))
    config = with_value("guanaco.source", "local")
    config["guanaco"]["path"] = str(tmp_path / "g.csv")
    with pytest.raises(InputError, match="guanaco.path: file .*g.csv does not exist"):
        check_config(config)
    with pytest.raises(InputError, match=r"samanantar.validation_fraction \+ samanantar.test_fraction = 1"):
        check_config(with_value("samanantar.validation_fraction", 0.9))


def test_tokenizer_and_model_cross_checks(tmp_path):
    config = copy.deepcopy(DEFAULT)
    config["models"]["smollm2_135m"]["tokenizer"] = "gpt9"
    with pytest.raises(InputError, match="config key models.smollm2_135m.tokenizer: unknown tokenizer 'gpt9'"):
        check_config(config)
    with pytest.raises(InputError, match=r"config key prompts.samanantar_train_subset: 999 is not one of samanantar.subsets"):
        check_config(with_value("prompts.samanantar_train_subset", 999))
    config = with_value("fertility.corpora", [{"name": "x", "src": str(tmp_path / "a.en"), "tgt": "b", "lang": "te"}])
    with pytest.raises(InputError, match=r"config key fertility.corpora\[0\].src: file .*a.en does not exist"):
        check_config(config)
    config = with_value("fertility.corpora", [{"name": "flores", "lang": "te", "source": "hub", "src_config": "eng_Latn"}])
    with pytest.raises(InputError, match=r"config key fertility.corpora\[0\].repo: required when the source is 'hub'"):
        check_config(config)
    config = copy.deepcopy(DEFAULT)
    config["tokenizers"]["llama2"] = {"source": "hub", "sha256": "0" * 64}
    with pytest.raises(InputError, match="config key tokenizers.llama2.repo: required when the source is 'hub'"):
        check_config(config)
    with pytest.raises(InputError, match="config key models.smollm2_135m.template: 'alpaca' is not one of"):
        check_schema(with_value("models.smollm2_135m.template", "alpaca"), SCHEMA)


def test_unknown_model_name_and_missing_weights():
    with pytest.raises(InputError, match=r"config key train.models\[1\]: unknown model 'llama9'"):
        check_config(with_value("train.models", ["smollm2_135m", "llama9"]))
    config = copy.deepcopy(DEFAULT)
    del config["models"]["gemma3_270m"]["weights"]
    with pytest.raises(InputError, match="config key models.gemma3_270m.weights: required for a model that is trained"):
        check_config(config)
    config["train"]["models"] = ["smollm2_135m"]
    check_config(config)  # a model that is not trained needs no weights
    with pytest.raises(InputError, match=r"config key models.smollm2_135m.lora.target_modules: \[\] should be non-empty"):
        check_schema(with_value("models.smollm2_135m.lora", {"target_modules": []}), SCHEMA)


def test_the_study_configuration_is_valid():
    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    merged = copy.deepcopy(DEFAULT)
    for key, value in paper.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    check_schema(merged, SCHEMA)
    assert merged["models"]["llama2_7b"]["lora"] == {"r": 64, "alpha": 16, "dropout": 0.1, "target_modules": ["q_proj", "v_proj"]}
    assert merged["models"]["mistral_7b"]["training"]["batch_size"] == 12
    assert merged["models"]["mistral_7b"]["training"]["epochs"] == 3


FLORES = {"name": "flores", "repo": "openlanguagedata/flores_plus", "split": "devtest", "task": "translation",
          "lang": "te", "source_lang": "en", "fields": {"source": "text_eng", "reference": "text_tel"}}


@pytest.mark.parametrize("change, message", [
    ({"hub": [{**FLORES, "name": "embedded"}]}, "config key evaluation.hub[0].name: 'embedded' is taken"),
    ({"hub": [FLORES, FLORES]}, "config key evaluation.hub[1].name: 'flores' is taken"),
    ({"hub": [{**FLORES, "lang": "hi"}]}, "config key evaluation.hub[0].lang: 'hi' is neither en nor samanantar.lang (te)"),
    ({"hub": [{**FLORES, "fields": {"source": "a", "answers": "b"}}]},
     "config key evaluation.hub[0].fields: task translation needs exactly source, reference; missing reference; unknown answers"),
    ({"hub": [{**FLORES, "source_lang": None}]}, "config key evaluation.hub[0].source_lang: a translation set needs en or te"),
    ({"instructions": {"qa": {"en": "Answer {query}"}}}, "config key evaluation.instructions.qa.en: bad placeholder ('query')"),
    ({"instructions": {"qa": {"te": "{context} {question}"}}}, "config key evaluation.instructions.qa.en: an English phrasing is required"),
    ({"sets_path": "/no/such/folder"}, "config key evaluation.sets_path: directory /no/such/folder does not exist"),
])
def test_evaluation_checks_name_the_key(change, message):
    config = copy.deepcopy(DEFAULT)
    config["evaluation"].update(change)
    with pytest.raises(InputError) as err:
        check_config(config)
    assert message in str(err.value)


def test_evaluation_schema_errors_name_the_key():
    with pytest.raises(InputError, match=r"config key evaluation.max_new_tokens.qa: 0 is less than the minimum of 1"):
        check_schema(with_value("evaluation.max_new_tokens", {"qa": 0}), SCHEMA)
    with pytest.raises(InputError, match=r"config key evaluation.hub.0.task: 'chat' is not one of"):
        check_schema(with_value("evaluation.hub", [{**FLORES, "task": "chat"}]), SCHEMA)


@pytest.mark.parametrize("key, value", [("samanantar.validation_fraction", float("nan")),
                                        ("intervals.confidence", float("inf")),
                                        ("models.smollm2_135m.training.learning_rate", float("-inf"))])
def test_numbers_must_be_finite(key, value):
    """YAML's .nan passes JSON Schema's type and range checks (every comparison with NaN is false)."""
    with pytest.raises(InputError, match=rf"config key {key}: -?(nan|inf) is not a finite number"):
        check_config(with_value(key, value))


def test_a_sets_folder_without_sets_is_named(tmp_path):
    config = with_value("evaluation.sets_path", str(tmp_path))
    with pytest.raises(InputError, match=rf"config key evaluation.sets_path: {tmp_path} has no .jsonl file"):
        check_config(config)


def test_prompt_instructions_are_checked_with_the_config():
    with pytest.raises(InputError, match=r"config key prompts.instructions\[0\].text: must contain \{sentence\}"):
        check_config(with_value("prompts.instructions", [{"lang": "en", "text": "Translate"}]))
    with pytest.raises(InputError, match=r"config key prompts.instructions\[0\].text: bad placeholder \('language'\)"):
        check_config(with_value("prompts.instructions", [{"lang": "en", "text": "Into {language}: {sentence}"}]))



@pytest.mark.parametrize("dotted, value, message", [
    ("train.recipes", ["corrected", "mine"], r"config key train.recipes: unknown recipe 'mine'; defined under recipes: \['corrected', 'study'\]"),
    ("train.recipes", [], r"config key train.recipes: \[\] should be non-empty"),
    ("train.seeds", [], r"config key train.seeds: \[\] should be non-empty"),
    ("train.subsets", [50, 75], r"config key train.subsets: \[75\] not built; each must be one of samanantar.subsets \[50, 100, 200\]"),
    ("recipes.mine", {"loss": "full_text"}, r"config key recipes.mine: a recipe names every choice; missing pad_token, long_examples"),
    ("recipes.corrected.append_eos", False, r"config key recipes.corrected.long_examples: keep_eos keeps an EOS"),
    ("models.smollm2_135m.recipe_overrides", {"studdy": {"packing": True}},
     r"config key models.smollm2_135m.recipe_overrides.studdy: no recipe 'studdy' under recipes"),
    ("recipes.corrected.pad_token", "unk", r"config key recipes.corrected.pad_token: 'unk' is not one of \['distinct', 'eos'\]"),
    ("models.gemma3_270m.extra_runs", [{"dataset": "samanantar", "recipe": "x"}],
     r"config key models.gemma3_270m.extra_runs\[0\].recipe: unknown recipe 'x'"),
    ("models.gemma3_270m.extra_runs", [{"dataset": "guanaco", "subset": 100}],
     r"config key models.gemma3_270m.extra_runs\[0\].subset: 100 is not a built Samanantar subset"),
    ("models.gemma3_270m.extra_runs", [{"dataset": "samanantar", "subset": 75}],
     r"config key models.gemma3_270m.extra_runs\[0\].subset: 75 is not a built Samanantar subset"),
    ("models.smollm2_135m.datasets", ["wiki"], r"config key models.smollm2_135m.datasets.0: 'wiki' is not one of \['samanantar', 'guanaco'\]"),
    ("models.smollm2_135m.probe_template", "alpaca", r"config key models.smollm2_135m.probe_template: 'alpaca' is not valid"),
])
def test_bad_run_dimensions_fail_before_any_job_naming_the_key(dotted, value, message):
    config = with_value(dotted, value)
    if dotted == "recipes.corrected.append_eos":
        config["recipes"]["corrected"]["long_examples"] = "keep_eos"
    with pytest.raises(InputError, match=message):
        check_config(config)


def test_a_model_trained_on_a_dataset_that_is_not_formatted_fails_naming_the_key():
    config = with_value("prompts.datasets", ["samanantar"])
    config["models"]["gemma3_270m"]["datasets"] = ["samanantar", "guanaco"]
    with pytest.raises(InputError, match=r"config key models.gemma3_270m.datasets: \['guanaco'\] not formatted "
                                         r"\(prompts.datasets: \['samanantar'\]\)"):
        check_config(config)


def test_the_run_dimensions_of_a_sweep_are_accepted():
    config = with_value("train.recipes", ["study", "corrected"])
    config["train"].update(seeds=[1, 2, 3], subsets=[50, 200])
    config["models"]["gemma3_270m"]["recipe_overrides"] = {"study": {"packing": True, "append_eos": False}}
    check_config(config)


def test_every_source_of_the_study_and_of_the_default_has_its_licence_and_revision():
    from telugu_llm.report.provenance import NOT_STATED, sources

    paper = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    merged = copy.deepcopy(DEFAULT)
    for key, value in paper.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    check_schema(merged, SCHEMA)  # fills the defaults, as the workflow does
    rows = {(r["kind"], r["name"]): r for r in sources(merged)}
    assert rows[("dataset", "samanantar")] == {"kind": "dataset", "name": "samanantar", "source": "hub",
                                                "where": "ai4bharat/samanantar", "revision": "main",
                                                "licence": "CC-BY-NC-4.0"}
    assert rows[("dataset", "evaluation: xlsum")]["revision"] == "refs/convert/parquet"
    assert rows[("dataset", "evaluation: xlsum")]["licence"] == "CC-BY-NC-SA-4.0"
    assert rows[("dataset", "evaluation: flores200")]["licence"].startswith("CC-BY-SA-4.0")
    assert rows[("model", "mistral_7b_instruct")]["licence"].startswith("Apache-2.0")
    assert rows[("model", "llama2_7b_chat")]["licence"].startswith("Llama 2 Community License")
    assert rows[("dataset", "evaluation: indicqa")]["licence"] == NOT_STATED  # its card was not checked here
    default = copy.deepcopy(DEFAULT)
    check_config(default, SCHEMA)
    rows = {(r["kind"], r["name"]): r for r in sources(default)}
    assert rows[("model", "gemma3_270m")]["licence"] == "Gemma Terms of Use (Gemma-3-270M)"
    assert rows[("model", "gemma3_270m")]["revision"] == "1.0.0"
    assert rows[("tokenizer", "mistral")] == {"kind": "tokenizer", "name": "mistral", "source": "package",
                                              "where": "mistral-common", "revision": "1.13.1", "licence": "Apache-2.0"}
    assert rows[("model", "smollm2_135m")]["licence"] == "Apache-2.0 (SmolLM2-135M-Instruct)"
    assert ("model", "smollm2_135m_te400") not in rows  # the extended model reads SmolLM2's weights
    # the extended tokenizer: made here from SmolLM2's, under its licence
    assert rows[("tokenizer", "smollm2_te400")] == {
        "kind": "tokenizer", "name": "smollm2_te400", "source": "vocabulary stage",
        "where": "smollm2 with 400 pieces learned from samanantar", "revision": "",
        "licence": "Apache-2.0 (SmolLM2-135M-Instruct)"}
    default["train"]["models"] = ["gemma3_270m"]
    assert ("model", "smollm2_135m") not in {(r["kind"], r["name"]) for r in sources(default)}  # not trained
    assert all(r["licence"] != NOT_STATED for r in rows.values())


def test_a_number_with_leading_zeros_is_refused_naming_file_and_line(tmp_path):
    """YAML 1.1 reads `0042` as the octal 34: seeds [42, 0042] were two runs of seeds 42 and 34."""
    from telugu_llm.config import read_config_file

    path = tmp_path / "seeds.yaml"
    path.write_text("train:\n  seeds: [42, 0042]\n")
    with pytest.raises(InputError, match=rf"^{path}, line 2: 0042 is read by YAML as the octal number 34, not 42"):
        read_config_file(path)
    path.write_text("train:\n  seeds: [42, 0, 1_000]\nnote: '0042'\n")
    assert read_config_file(path) == {"train": {"seeds": [42, 0, 1000]}, "note": "0042"}
    for shipped in sorted((REPO / "config").glob("*.yaml")):
        read_config_file(shipped)


def test_an_extension_of_a_model_that_is_not_trained_is_refused():
    """A vocab.extend entry the user gave for a model train.models does not select did nothing,
    silently; entries the embedded default gives are inherited by every layered config and are not
    the user's."""
    from telugu_llm.config import check_given_entries

    config = copy.deepcopy(DEFAULT)
    check_config(config, SCHEMA)
    config["train"]["models"] = selected = ["smollm2_135m"]
    other = "gemma3_270m"
    given = [("config file mine.yaml", {"vocab": {"extend": {other: {"pieces": 100}}}})]
    with pytest.raises(InputError, match=rf"^config key vocab.extend.{other} \(config file mine.yaml\): {other} is not "
                                         rf"among train.models .*, so the entry does nothing"):
        check_given_entries(config, given)
    check_given_entries(config, [("config file mine.yaml", {"vocab": {"extend": {selected[0]: {"pieces": 100}}}})])
    check_given_entries(config, [("--config", {})])
    config["train"]["models"] = None  # every model is trained
    check_given_entries(config, given)


def test_the_workflow_refuses_octal_seeds_and_idle_extensions_before_any_job(workflow):
    from conftest import snakemake

    (workflow / "octal.yaml").write_text("train:\n  seeds: [42, 0042]\n")
    proc = snakemake(workflow, "-n", "results/report.html", "--configfile", "octal.yaml", check=False)
    assert proc.returncode != 0 and "octal.yaml, line 2: 0042 is read by YAML as the octal number 34" in proc.stdout + proc.stderr
    (workflow / "idle.yaml").write_text("train:\n  models: [smollm2_135m]\nvocab:\n  extend:\n    gemma3_270m: {pieces: 100}\n")
    proc = snakemake(workflow, "-n", "results/report.html", "--configfile", "idle.yaml", check=False)
    assert proc.returncode != 0
    assert f"config key vocab.extend.gemma3_270m (config file {workflow / 'idle.yaml'}): gemma3_270m is not among " \
           "train.models ['smollm2_135m']" in proc.stdout + proc.stderr
    assert not (workflow / "results").exists()
