# Config checking, paths and input functions shared by the rules.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

WORKFLOW_DIR = Path(workflow.basedir)
sys.path.insert(0, str(WORKFLOW_DIR / "src"))

from telugu_llm.config import check_inputs, check_schema  # noqa: E402
from telugu_llm.errors import InputError  # noqa: E402

SCHEMA = WORKFLOW_DIR / "config" / "schema.yaml"
try:
    check_schema(config, SCHEMA)  # a message naming the key, before any job
    validate(config, SCHEMA)  # fills in the schema's defaults
    check_inputs(config, WORKFLOW_DIR)
except InputError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None

PACKAGE = WORKFLOW_DIR / "src" / "telugu_llm"
LANG = config["samanantar"]["lang"]
SAMANANTAR_DIR = f"results/data/samanantar/en-{LANG}"
GUANACO_DIR = "results/data/guanaco"
EMBEDDED_SAMANANTAR = WORKFLOW_DIR / "data" / "samanantar"
EMBEDDED_GUANACO = WORKFLOW_DIR / "data" / "guanaco" / "guanaco.jsonl"


def code(*modules):
    """The package modules that a job imports, as inputs, so that editing one re-runs the job."""
    return [str(PACKAGE / m) for m in ("__init__.py", "errors.py", "logs.py", *modules)]


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
