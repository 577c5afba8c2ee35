"""The rules of the house: each rule's code inputs are what its script really imports; stage
packages import only shared modules and earlier stages; the package never imports Snakemake; the
schema is the one place that states a default."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from telugu_llm.imports import PACKAGE_DIR, module_name, package_modules

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "scripts").glob("*.py"))
STAGES = ("data", "tokens", "prompts", "vocab", "adapt", "train", "plan", "evaluation", "report")  # the order of the workflow
MODULES = sorted(PACKAGE_DIR.rglob("*.py"))

# Run a script until it first touches `snakemake` beyond its script folder (right after its
# imports), import the modules it starts as processes, then list the package modules that are loaded.
IMPORTS_OF = """
import json, sys
class Stop(Exception):
    pass
class Snakemake:
    scriptdir = {scripts!r}
    def __getattr__(self, name):
        raise Stop(name)
try:
    exec(compile(open({script!r}).read(), {script!r}, "exec"), {{"snakemake": Snakemake(), "__name__": "__main__"}})
except Stop:
    pass
# and what the processes the job starts import (imports.py: STARTED_MODULES)
import importlib
started = set()
while True:
    todo = {{name for n, m in list(sys.modules.items()) if n.split(".")[0] == "telugu_llm"
             for name in getattr(m, "STARTED_MODULES", ())}} - started
    if not todo:
        break
    for name in todo:
        importlib.import_module(name)
    started |= todo
print(json.dumps(sorted(m.__file__ for n, m in sys.modules.items() if n.split(".")[0] == "telugu_llm")))
"""


def really_imported(script: Path) -> list[str]:
    code = IMPORTS_OF.format(scripts=str(script.parent), script=str(script))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return sorted(str(Path(p).resolve()) for p in json.loads(proc.stdout.splitlines()[-1]))


def test_code_inputs_are_the_modules_each_script_really_imports():
    with ThreadPoolExecutor(max_workers=2) as pool:
        real = dict(zip(SCRIPTS, pool.map(really_imported, SCRIPTS)))
    for script in SCRIPTS:
        computed = [str(p) for p in package_modules(script)]
        assert computed == real[script], f"{script.name}: computed {computed} but imports {real[script]}"
        assert len(computed) > 3, script.name  # every script runs package code beyond errors and logs


def test_the_computation_follows_relative_and_submodule_imports(tmp_path):
    script = tmp_path / "x.py"
    script.write_text("from telugu_llm.evaluation import summary\n")
    names = {module_name(p) for p in package_modules(script)}
    # summary -> scoring (relative), -> metrics (`from . import metrics`), -> languages (`..`), atomic, errors
    assert {"telugu_llm", "telugu_llm.evaluation", "telugu_llm.evaluation.summary", "telugu_llm.evaluation.scoring",
            "telugu_llm.evaluation.metrics", "telugu_llm.languages", "telugu_llm.atomic",
            "telugu_llm.errors"} <= names
    assert "telugu_llm.train.run" not in names


def rule_blocks():
    for smk in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule )", smk.read_text()):
            name = re.match(r"rule (\w+):", block)
            if name:
                yield smk.name, name.group(1), block


def test_each_rule_computes_the_code_inputs_of_its_own_script():
    with_scripts = 0
    for smk, rule, block in rule_blocks():
        script = re.search(r'script:\s*\n\s*"\.\./scripts/([\w.]+)"', block)
        code = re.search(r'code=code\("([\w.]+)"\)', block)
        assert bool(script) == bool(code), f"{smk}: rule {rule} has a script but no code input, or the reverse"
        if script:
            with_scripts += 1
            assert code.group(1) == script.group(1), f"{smk}: rule {rule} runs {script.group(1)} but lists {code.group(1)}"
    assert with_scripts == len(SCRIPTS)


def package_imports(path: Path) -> list[tuple[str, ast.AST, bool]]:
    """(module imported, node, at module level) for every import of the package's own modules and
    of snakemake, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    current = module_name(path)
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = current.split(".") if path.name == "__init__.py" else current.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [base] if node.module else [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        out += [(n, node, id(node) in top) for n in names if n.split(".")[0] in ("telugu_llm", "snakemake")]
    return out


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in STAGES) else None


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_stage_packages_import_shared_modules_and_earlier_stages_only(path):
    own = stage_of(module_name(path))
    for target, node, at_top in package_imports(path):
        where = f"{path.relative_to(REPO)}:{node.lineno}"
        assert not target.startswith("snakemake"), f"{where}: the package never imports snakemake"
        assert at_top, f"{where}: imports {target} inside a function (package imports are module-level)"
        theirs = stage_of(target)
        if own is None:
            assert theirs is None, f"{where}: the shared module imports the stage {theirs} ({target})"
        elif theirs is not None and theirs != own:
            assert STAGES.index(theirs) < STAGES.index(own), f"{where}: stage {own} imports the later stage {theirs}"
            assert theirs != "report", f"{where}: no stage imports report"
        if isinstance(node, ast.ImportFrom) and theirs not in (None, own):
            private = [a.name for a in node.names if a.name.startswith("_")]
            assert not private, f"{where}: imports private names {private} of stage {theirs}"


SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())


def schema_keys(*path: str) -> set[str]:
    node = SCHEMA
    for part in path:
        node = node["$defs"][part[1:]] if part.startswith("$") else node["properties"][part]
    return set(node["properties"])


def settings_classes():
    from telugu_llm.evaluation.settings import Decoding, GenerationSettings
    from telugu_llm.intervals import Intervals
    from telugu_llm.loading import Quantization
    from telugu_llm.train.settings import MODEL_KEYS, Lora, Recipe, RunSettings, Training

    return [  # (class, the schema keys it mirrors, fields that are exactly those keys)
        (Quantization, schema_keys("$model", "quantization"), True),
        (Lora, schema_keys("$model", "lora"), True),
        (Training, schema_keys("$model", "training"), True),
        (Decoding, schema_keys("evaluation", "decoding"), True),
        (Intervals, schema_keys("intervals"), True),
        (GenerationSettings, schema_keys("evaluation"), False),
        (Recipe, {"name"} | set(SCHEMA["$defs"]["recipe"]["properties"]), True),
        # the dimensions of a run (model, dataset, recipe, subset; the seed is training.seed's value)
        (RunSettings, set(MODEL_KEYS) | {"model", "dataset", "recipe", "subset", "device", "processes"}, True),
    ]


def test_settings_use_the_config_key_names_and_restate_no_default():
    for cls, keys, exact in settings_classes():
        fields = {f.name for f in dataclasses.fields(cls)}
        assert (fields == keys) if exact else (fields <= keys), f"{cls.__name__}: {sorted(fields ^ keys)}"
        with_default = [f.name for f in dataclasses.fields(cls)
                        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING]
        assert not with_default, f"{cls.__name__} restates defaults of config/schema.yaml: {with_default}"


def all_schema_keys(node) -> set[str]:
    keys = set()
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            keys.add(name)
            keys |= all_schema_keys(sub)
        for value in node.values():
            if isinstance(value, (dict, list)):
                keys |= all_schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            keys |= all_schema_keys(value)
    return keys


def test_no_config_default_is_restated_in_code():
    """No `.get("<config key>", default)` and no keyword default for a config key in the package or the
    rules: the schema fills every default before the workflow runs (and `config.with_defaults` does
    for other callers)."""
    keys = all_schema_keys(SCHEMA) - {"name", "path", "lang", "text", "file", "parts", "package", "key", "field"}  # data words too
    found = []
    sources = [*MODULES, *(REPO / "rules").glob("*.smk")]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r'\.get\("(\w+)", ', text):
            if match.group(1) in keys:
                found.append(f"{path.name}: .get({match.group(1)!r}, ...)")
        if path.suffix == ".py":
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    positional = node.args.args[len(node.args.args) - len(node.args.defaults):]
                    pairs = [*zip(positional, node.args.defaults), *zip(node.args.kwonlyargs, node.args.kw_defaults)]
                    for arg, default in pairs:
                        if arg.arg in keys and isinstance(default, ast.Constant) and default.value is not None:
                            found.append(f"{path.name}:{node.lineno} {node.name}({arg.arg}={default.value!r})")
    assert not found, found


def ast_imports(path: Path, current: str | None, is_package: bool) -> set[str]:
    """The reference for the line scan of `imports.imported_names`: every import statement, parsed."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = current.split(".") if is_package else current.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        elif (isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["STARTED_MODULES"]
              and isinstance(node.value, ast.Tuple)):
            names |= {element.value for element in node.value.elts}
    return {n for n in names if n.split(".")[0] == "telugu_llm"}


@pytest.mark.parametrize("path", [*SCRIPTS, *MODULES], ids=lambda p: p.name if p.parent.name == "scripts" else module_name(p))
def test_the_import_scan_finds_what_the_parser_finds(path):
    """The code inputs come from a line scan (fast enough for every Snakemake start); it must see every
    import of a package module that Python's parser sees, in every script and module."""
    from telugu_llm.imports import imported_names

    script = path.parent.name == "scripts"
    current = None if script else module_name(path)
    is_package = path.name == "__init__.py"
    scanned = {n for n in imported_names(path.read_text(encoding="utf-8"), current, is_package)
               if n.split(".")[0] == "telugu_llm"}
    assert scanned == ast_imports(path, current, is_package)
