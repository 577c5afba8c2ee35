"""What a careless or hostile user meets (issue 12): each case runs the workflow as a user would (the
Snakemake command line, on a fresh copy of the workflow) and records the message, the files left
under results/ and a verdict: one clear message naming the file, line or key, and nothing partial.

    .venv/bin/python bench/bad_input.py        # prints a Markdown table, writes bench/out/bad_input.json
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "tests"))
from conftest import copy_workflow, write_release  # noqa: E402

EN = [f"Sentence {i} about the rain in the villages." for i in range(200)]
TE = [f"గ్రామాల్లో వర్షం గురించి వాక్యం {i}." for i in range(200)]


def corpus(wf: Path, src, tgt, lang="te") -> str:
    write_release(wf / "corpus", lang, src, tgt)
    return f"samanantar: {{source: local, path: corpus, lang: {lang}, subsets: [10]}}\nprompts: {{samanantar_train_subset: 10}}\n"


def guanaco_file(wf: Path, name: str, data: bytes) -> str:
    (wf / name).write_bytes(data)
    return f"guanaco: {{source: local, path: {name}}}\n"


def cases():
    """(name, how the input was made, a function (workflow) -> (config text, target, extra arguments))."""
    yield "Telugu on both sides", "cp train.te train.en", lambda wf: (corpus(wf, TE, TE), "data", [])
    yield "files swapped", "train.en holds Telugu, train.te English", lambda wf: (corpus(wf, TE, EN), "data", [])
    yield "wrong lang", "lang: hi on en-te data", lambda wf: (corpus(wf, EN, TE, lang="hi"), "data", [])
    yield "lone-CR line endings", "old Mac files", lambda wf: (
        corpus(wf, ("\r".join(EN) + "\r").encode(), ("\r".join(TE) + "\r").encode()), "data", [])
    yield "line counts differ", "one line missing", lambda wf: (corpus(wf, EN, TE[:-1]), "data", [])
    yield "invalid UTF-8", "a Latin-1 byte in train.te", lambda wf: (
        corpus(wf, "\n".join(EN).encode(), ("\n".join(TE[:5]) + "\ncaf\xe9\n" + "\n".join(TE[6:])).encode("latin-1",
                                                                                                       "ignore")),
        "data", [])
    yield "Guanaco: every record dropped", "a text column of integers", lambda wf: (
        guanaco_file(wf, "g.jsonl", b"".join(json.dumps({"text": i}).encode() + b"\n" for i in range(50))), "data", [])
    yield "Guanaco: corrupt Parquet", "random bytes named .parquet", lambda wf: (
        guanaco_file(wf, "g.parquet", b"PAR1 not really"), "data", [])
    yield "validation_fraction .nan", "samanantar: {validation_fraction: .nan}", lambda wf: (
        "samanantar: {validation_fraction: .nan}\n", "data", [])
    yield "prompt placeholder", "an instruction without {sentence}", lambda wf: (
        "prompts: {instructions: [{lang: en, text: 'Translate {source}'}]}\n", "prompts", [])
    yield "empty sets folder", "evaluation.sets_path: an empty folder", lambda wf: (
        (wf / "empty").mkdir() or "evaluation: {sets_path: empty}\n", "evaluate", [])
    yield "--directory elsewhere", "snakemake -s wf/Snakefile --directory other", lambda wf: (
        "", "data", ["-n", "--directory", str(wf.parent / "other")])
    yield "unknown key", "samanantar: {subsetz: [10]}", lambda wf: ("samanantar: {subsetz: [10]}\n", "data", [])


def left_behind(wf: Path, name: str) -> list[str]:
    """Temporaries anywhere, and any output of the dataset the case broke (the other dataset's job may
    have finished before: its outputs are whole)."""
    results = wf / "results"
    if not results.exists():
        return []
    broken = results / "data" / ("guanaco" if name.startswith("Guanaco") else "samanantar")
    return sorted(str(p.relative_to(wf)) for p in results.rglob("*")
                  if p.is_file() and (".tmp-" in p.name or broken in p.parents))


def main() -> None:
    rows = []
    for name, how, make in cases():
        with tempfile.TemporaryDirectory() as tmp:
            wf = copy_workflow(Path(tmp) / "wf")
            config, target, extra = make(wf)
            args = [sys.executable, "-m", "snakemake", "--cores", "1", target]
            if config:
                (wf / "case.yaml").write_text(config)
                args += ["--configfile", "case.yaml"]
            if "--directory" in extra:
                (wf.parent / "other").mkdir()
                args = [sys.executable, "-m", "snakemake", "-s", str(wf / "Snakefile"), *extra, target]
                proc = subprocess.run(args, cwd=wf.parent, capture_output=True, text=True)
            else:
                proc = subprocess.run(args + extra, cwd=wf, capture_output=True, text=True)
            output = proc.stdout + proc.stderr
            errors = [line.strip() for line in output.splitlines() if re.search(r"\berror: |invalid configuration", line)]
            message = errors[0] if errors else ("(ran: exit 0)" if proc.returncode == 0 else output.strip().splitlines()[-1])
            left = left_behind(wf, name)
            ok = (proc.returncode != 0 and bool(errors) and "Traceback" not in output and not left) or \
                 (name == "--directory elsewhere" and proc.returncode == 0)
            rows.append({"case": name, "input": how, "exit": proc.returncode, "message": message[:300],
                         "files_left": left, "verdict": "ok" if ok else "FAILS"})
            print(f"{name}: {rows[-1]['verdict']}", file=sys.stderr)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bad_input.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
    print("| case | input | message | files left | verdict |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['input']} | {r['message'].replace('|', '/')} | {len(r['files_left'])} | {r['verdict']} |")


if __name__ == "__main__":
    main()
