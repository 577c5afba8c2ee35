"""The hub path through the real `datasets` and `huggingface_hub` code, against a local replica of
the hub (tests/hubserver.py, started by conftest.py) holding each named repository in the layout the
hub serves today: a README with `configs:`, a Parquet export without one, a loading script alone, a
gated repository. No test reaches the network."""

from __future__ import annotations

import pytest
from hubserver import add_file, add_parquet, set_gated

from telugu_llm import hub as hubmod
from telugu_llm.config import with_defaults
from telugu_llm.errors import InputError

SAMANANTAR_README = """---
license: cc-by-nc-4.0
configs:
- config_name: as
  data_files:
  - split: train
    path: as/train-*
- config_name: te
  data_files:
  - split: train
    path: te/train-*
---
# Samanantar
"""
TE = {"idx": [0, 1, 2], "src": ["Hello.", "Good morning.", "Thank you."],
      "tgt": ["నమస్కారం.", "శుభోదయం.", "ధన్యవాదాలు."]}
XLSUM = {"id": ["a", "b"], "url": ["u1", "u2"], "title": ["t1", "t2"], "summary": ["సారాంశం ఒకటి", "సారాంశం రెండు"],
         "text": ["మొదటి వార్త.", "రెండవ వార్త."]}


def samanantar(root) -> dict:
    add_file(root, "ai4bharat/samanantar", "README.md", SAMANANTAR_README)
    add_parquet(root, "ai4bharat/samanantar", "te/train-00000-of-00001.parquet", TE)
    add_parquet(root, "ai4bharat/samanantar", "as/train-00000-of-00001.parquet", {k: v[:1] for k, v in TE.items()})
    return {"repo": "ai4bharat/samanantar", "revision": "main", "config": "te"}


def xlsum(root) -> dict:
    """csebuetnlp/xlsum today: a loading script on main; its Parquet export on refs/convert/parquet."""
    add_file(root, "csebuetnlp/xlsum", "README.md", "---\nlicense: cc-by-nc-sa-4.0\n---\n# XL-Sum\n")
    add_file(root, "csebuetnlp/xlsum", "xlsum.py", "import datasets\n")
    for split in ("train", "test"):
        add_parquet(root, "csebuetnlp/xlsum", f"telugu/{split}/0000.parquet", XLSUM, revision=hubmod.PARQUET_EXPORT)
    add_parquet(root, "csebuetnlp/xlsum", "hindi/test/0000.parquet", XLSUM, revision=hubmod.PARQUET_EXPORT)
    return {"repo": "csebuetnlp/xlsum", "revision": hubmod.PARQUET_EXPORT, "data_dir": "telugu"}


def test_a_repository_with_configs_reads_its_rows(hub):
    spec = samanantar(hub.root)
    rows = list(hubmod.rows("samanantar.hub", spec, "train", columns=["src", "tgt"]))
    assert [r["tgt"] for r in rows] == TE["tgt"] and [r["idx"] for r in rows] == [0, 1, 2]
    assert list(hubmod.rows("samanantar.hub", spec, "train", limit=2)) == rows[:2]
    assert all(path.startswith(("/api/datasets/ai4bharat/samanantar", "/datasets/ai4bharat/samanantar"))
               for _, path, _ in hub.log)


def test_a_parquet_export_is_read_by_its_folder(hub):
    spec = xlsum(hub.root)
    assert [r["summary"] for r in hubmod.read_rows("evaluation.hub[2]", spec, "test")] == XLSUM["summary"]


def test_a_parquet_export_read_by_configuration_says_to_use_its_folder(hub):
    spec = {**xlsum(hub.root), "data_dir": None, "config": "telugu"}
    with pytest.raises(InputError) as error:
        hubmod.read_rows("evaluation.hub[2]", spec, "test")
    assert str(error.value) == (
        "evaluation.hub[2].config: csebuetnlp/xlsum@refs/convert/parquet has no configuration 'telugu'; it has "
        "['default']; a Parquet export has no README, so its folders are not configurations: use "
        "evaluation.hub[2].data_dir: telugu and evaluation.hub[2].config: null")


def test_a_script_only_repository_points_to_its_parquet_export(hub):
    xlsum(hub.root)
    with pytest.raises(InputError) as error:
        hubmod.read_rows("evaluation.hub[2]", {"repo": "csebuetnlp/xlsum", "revision": "main", "config": "telugu"}, "test")
    message = str(error.value)
    assert message.startswith("evaluation.hub[2]: csebuetnlp/xlsum@main has only a loading script (xlsum.py)")
    assert "evaluation.hub[2].revision: refs/convert/parquet and evaluation.hub[2].data_dir: <configuration>" in message


def test_a_gated_repository_says_to_accept_its_licence_and_reads_with_a_token(hub, monkeypatch):
    spec = samanantar(hub.root)
    set_gated(hub.root, "ai4bharat/samanantar")
    with pytest.raises(InputError) as error:
        hubmod.read_rows("samanantar.hub", spec, "train")
    assert str(error.value) == (
        f"samanantar.hub.repo: ai4bharat/samanantar is gated. Accept its licence at {hub.url}/datasets/"
        "ai4bharat/samanantar with your hub account, then export HF_TOKEN (a read token of that account) and run again")
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    assert len(hubmod.read_rows("samanantar.hub", spec, "train")) == 3


@pytest.mark.parametrize("change, message", [
    ({"config": "xx"}, "samanantar.hub.config: ai4bharat/samanantar@main has no configuration 'xx'; it has ['as', 'te']"),
    ({"split": "validation"}, "samanantar.hub.split: ai4bharat/samanantar@main (config 'te') has no split 'validation'; "
                              "it has ['train']"),
    ({"revision": "v9"}, "samanantar.hub.revision: ai4bharat/samanantar has no revision 'v9' (a branch, tag or commit hash)"),
    ({"repo": "nobody/nothing"}, "samanantar.hub.repo: no dataset 'nobody/nothing' on the hub"),
    ({"columns": ["src", "data_source"]}, "samanantar.hub: ai4bharat/samanantar@main (config 'te') has no column "
                                          "'data_source'; its columns are idx, src, tgt"),
])
def test_what_is_wrong_is_said_with_the_key_to_change(hub, change, message):
    spec = {**samanantar(hub.root), **{k: v for k, v in change.items() if k not in ("split", "columns")}}
    with pytest.raises(InputError) as error:
        hubmod.read_rows("samanantar.hub", spec, change.get("split", "train"), columns=change.get("columns", ()))
    assert str(error.value).startswith(message)


def test_an_unreachable_hub_says_so(hub, monkeypatch):
    import datasets
    import huggingface_hub

    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", closed)
    monkeypatch.setattr(datasets.config, "HF_ENDPOINT", closed)
    with pytest.raises(InputError) as error:
        hubmod.read_rows("samanantar.hub", samanantar(hub.root), "train")
    assert str(error.value).startswith(f"samanantar.hub: the hub ({closed}) could not be reached to read "
                                       "ai4bharat/samanantar@main (config 'te')")


def tiny_llama(root, repo: str, *, gated: bool = False):
    """A model repository as the hub serves one: safetensors weights, configs, and files that must
    not be fetched (a pickle copy of the weights, remote code, a README)."""
    import torch
    import transformers

    from hubserver import add_folder

    config = transformers.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    folder = root.parent / "saved" / repo
    model.save_pretrained(folder, safe_serialization=True)
    add_folder(root, repo, folder, repo_type="model")
    for name, content in (("pytorch_model.bin", b"not to be unpickled"), ("modeling_llama.py", "raise SystemExit\n"),
                          ("README.md", "---\nlicense: llama2\n---\n")):
        add_file(root, repo, name, content, repo_type="model")
    if gated:
        set_gated(root, repo, repo_type="model")
    return model


def test_a_model_snapshot_fetches_only_safetensors_and_configs(hub, tmp_path):
    import torch

    from telugu_llm.train.weights import build_model

    model = tiny_llama(hub.root, "NousResearch/Llama-2-7b-chat-hf")
    spec = with_defaults({"source": "hub", "repo": "NousResearch/Llama-2-7b-chat-hf", "architecture": "llama"},
                         "$defs/weights")
    meta = build_model("llama2_7b_chat", spec, tmp_path / "model")
    fetched = sorted(path.rsplit("/", 1)[-1] for method, path, status in hub.log if method == "GET" and "/resolve/" in path)
    assert fetched == ["config.json", "generation_config.json", "model.safetensors"]
    assert meta["model_type"] == "llama" and len(meta["commit"]) == 40
    import safetensors.torch

    saved = safetensors.torch.load_file(tmp_path / "model" / "model.safetensors")
    assert torch.equal(saved["model.embed_tokens.weight"], model.state_dict()["model.embed_tokens.weight"])


@pytest.mark.parametrize("name, repo", [("llama2_7b", "meta-llama/Llama-2-7b-hf"),
                                        ("mistral_7b_instruct", "mistralai/Mistral-7B-Instruct-v0.1")])
def test_a_gated_model_says_to_accept_its_licence(hub, tmp_path, monkeypatch, name, repo):
    from telugu_llm.train.weights import build_model

    tiny_llama(hub.root, repo, gated=True)
    spec = with_defaults({"source": "hub", "repo": repo}, "$defs/weights")
    with pytest.raises(InputError) as error:
        build_model(name, spec, tmp_path / "model")
    assert str(error.value) == (
        f"models.{name}.weights.repo: {repo} is gated. Accept its licence at {hub.url}/{repo} with your hub account, "
        "then export HF_TOKEN (a read token of that account) and run again")
    assert not (tmp_path / "model").exists()
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    assert build_model(name, spec, tmp_path / "model")["model_type"] == "llama"
