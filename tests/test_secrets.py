"""The token is never written (issue 22, defect 3): a hub whose error message echoes the request's
Authorization header put `Bearer hf_...` into the job's log and Snakemake's. Every message and log
line the workflow writes is redacted (telugu_llm.redact)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import yaml
from conftest import copy_workflow, snakemake
from hubserver import add_file

SECRET = "hf_" + "Zq8vW" * 7  # the shape of a hub token: hf_ and 34 letters and digits


def files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes()]


def test_a_hub_error_that_echoes_the_token_leaves_it_in_no_file_and_no_message(hub, tmp_path, monkeypatch):
    """The tokenizer rule against a local hub that answers 401 with the request's Authorization
    header in X-Error-Message, through the real huggingface_hub client: the job fails with the hub's
    message, and no file of the run, of the hub client's home or of Snakemake holds the token."""
    repo = "meta-llama/Llama-2-7b-chat-hf"
    add_file(hub.root, repo, "tokenizer.model", b"never read", repo_type="model")
    monkeypatch.setattr(hub, "echo_authorization", True)
    monkeypatch.setattr(hub, "tokens", {"hf_" + "a" * 34})  # someone else's
    work = copy_workflow(tmp_path / "wf")
    (work / "hub.yaml").write_text(yaml.safe_dump({"tokenizers": {"hubtok": {
        "source": "hub", "repo": repo, "file": "tokenizer.model", "revision": "main", "sha256": "0" * 64,
        "format": "sentencepiece", "class": "LlamaTokenizer"}}}))
    monkeypatch.setenv("HF_TOKEN", SECRET)
    proc = snakemake(work, "--cores", "1", "resources/tokenizers/hubtok", "--configfile", "hub.yaml", check=False)
    said = proc.stdout + proc.stderr
    assert proc.returncode != 0, said
    log = (work / "results/logs/tokenizers/hubtok.log").read_text()
    assert "bad credentials" in log and "[redacted]" in log, log  # the hub's answer is shown, its secret not
    assert SECRET not in said and SECRET[3:] not in said, said
    assert files_holding(tmp_path, SECRET) == [] and files_holding(tmp_path, SECRET[3:]) == []
    assert files_holding(Path(os.environ["HF_HOME"]), SECRET) == []
    assert not (work / "resources/tokenizers/hubtok").exists()


@pytest.mark.parametrize("text, kept", [
    (f"401 Client Error: bad credentials Bearer {SECRET} for url", "401 Client Error: bad credentials Bearer [redacted] for url"),
    ('headers {"Authorization": "Bearer abc.def"}', 'headers {"Authorization": "[redacted]"}'),
    ("Authorization: Basic dXNlcjpwYXNz", "Authorization: [redacted]"),
    (f"token {SECRET}", "token [redacted]"),
    ("repo hf-internal-testing/tiny: a token of 12 words", "repo hf-internal-testing/tiny: a token of 12 words"),
])
def test_secrets_are_redacted_and_other_text_is_kept(text, kept):
    from telugu_llm.redact import redact

    assert redact(text) == kept


def test_the_value_of_hf_token_is_redacted_whatever_its_shape(monkeypatch):
    from telugu_llm.redact import redact

    monkeypatch.setenv("HF_TOKEN", "my-own-proxy-credential")
    assert redact("proxy said: my-own-proxy-credential is wrong") == "proxy said: [redacted] is wrong"


def test_a_step_logs_and_raises_nothing_that_holds_the_token(tmp_path, monkeypatch, capsys):
    """What a step logs, writes to stderr, or raises (its traceback, printed again by Python) is
    redacted, in the log file and on the console."""
    from telugu_llm.logs import logged

    monkeypatch.setenv("HF_TOKEN", SECRET)
    log = tmp_path / "step.log"
    with pytest.raises(RuntimeError) as err:
        with logged(log):
            logging.getLogger("telugu_llm.x").info("client said Authorization: Bearer %s", SECRET)
            import sys
            sys.stderr.write(f"a library prints {SECRET}\n")
            raise ValueError(f"echoed {SECRET}")
    assert SECRET not in str(err.value) and "echoed [redacted]" in str(err.value)
    text = log.read_text()
    assert SECRET not in text and text.count("[redacted]") >= 3, text
    assert SECRET not in capsys.readouterr().err
