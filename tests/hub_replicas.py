"""Small replicas of the hub repositories that config/paper.yaml names, in the file layout the hub
serves them in today (checked against the hub's file listings in November 2026), for the local hub
of tests/hubserver.py. Each function writes one repository under `root` and returns what a config
entry reads it with."""

from __future__ import annotations

import json

from hubserver import add_file, add_parquet, revision_path, set_gated

PARQUET_EXPORT = "refs/convert/parquet"


def samanantar(root, columns: dict, *, lang: str = "te") -> dict:
    """ai4bharat/samanantar: Parquet, one configuration per language declared in the README
    (`configs:`), split train; columns idx, src, tgt (no data_source since its Parquet conversion)."""
    readme = ("---\nlicense: cc-by-nc-4.0\nconfigs:\n"
              + "".join(f"- config_name: {code}\n  data_files:\n  - split: train\n    path: {code}/train-*\n"
                        for code in sorted({"as", lang}))
              + "---\n# Samanantar\n")
    add_file(root, "ai4bharat/samanantar", "README.md", readme)
    add_parquet(root, "ai4bharat/samanantar", f"{lang}/train-00000-of-00001.parquet", columns)
    if lang != "as":
        add_parquet(root, "ai4bharat/samanantar", "as/train-00000-of-00001.parquet", {k: v[:1] for k, v in columns.items()})
    return {"repo": "ai4bharat/samanantar", "revision": "main"}


def guanaco(root, train: list[str], test: list[str]) -> dict:
    """timdettmers/openassistant-guanaco: two JSON-lines files, no `configs:`; datasets names the
    splits from the file names (eval -> test)."""
    add_file(root, "timdettmers/openassistant-guanaco", "README.md", "---\nlicense: apache-2.0\n---\n# Guanaco\n")
    for name, texts in (("train", train), ("eval", test)):
        add_file(root, "timdettmers/openassistant-guanaco", f"openassistant_best_replies_{name}.jsonl",
                 "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts))
    return {"repo": "timdettmers/openassistant-guanaco", "revision": "main", "splits": ["train", "test"]}


def flores_plus(root, by_config: dict, *, gated: bool = True) -> dict:
    """openlanguagedata/flores_plus: gated; one configuration per language (README `configs:`),
    splits dev and devtest, columns id, iso_639_3, iso_15924, glottocode, text, ..."""
    readme = "---\nlicense: cc-by-sa-4.0\nconfigs:\n"
    for config, splits in sorted(by_config.items()):
        readme += f"- config_name: {config}\n  data_files:\n"
        for split, rows in splits.items():
            readme += f"  - split: {split}\n    path: {split}/{config}.parquet\n"
            add_parquet(root, "openlanguagedata/flores_plus", f"{split}/{config}.parquet",
                        {"id": [r["id"] for r in rows], "iso_639_3": [config[:3]] * len(rows),
                         "iso_15924": [config[4:]] * len(rows), "text": [r["text"] for r in rows]})
    add_file(root, "openlanguagedata/flores_plus", "README.md", readme + "---\n# FLORES+\n")
    if gated:
        set_gated(root, "openlanguagedata/flores_plus")
    return {"repo": "openlanguagedata/flores_plus", "revision": "main"}


def script_only_with_export(root, repo: str, script: str, exported: dict) -> None:
    """A repository holding only a loading script on main (csebuetnlp/xlsum, ai4bharat/IndicQA),
    and the hub's Parquet export of it: <configuration>/<split>/0000.parquet, no README."""
    add_file(root, repo, "README.md", "---\nlicense: cc-by-nc-sa-4.0\n---\n")
    add_file(root, repo, script, "import datasets\n")
    for path, columns in exported.items():
        add_parquet(root, repo, f"{path}/0000.parquet", columns, revision=PARQUET_EXPORT)


# --------------------------------------------------------------------------------------------- models
# The config.json and generation_config.json of the checkpoints paper.yaml names, as the hub serves
# them (Llama-2-7b-chat-hf at NousResearch and meta-llama, Mistral-7B(-Instruct)-v0.1 at
# mistralai), with only depth and width shrunk (SHRINK): the classes, vocabulary, untied head,
# grouped-query attention, sliding window, rope and norm constants, and special ids are the real ones.
LLAMA2_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 11008, "max_position_embeddings": 4096,
    "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
    "pad_token_id": 0, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 10000.0,
    "tie_word_embeddings": False, "torch_dtype": "float16", "transformers_version": "4.31.0.dev0",
    "use_cache": True, "vocab_size": 32000}
LLAMA2_GENERATION = {"bos_token_id": 1, "do_sample": True, "eos_token_id": 2, "max_length": 4096, "pad_token_id": 0,
                     "temperature": 0.6, "top_p": 0.9, "transformers_version": "4.31.0.dev0"}
MISTRAL_CONFIG = {
    "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 32768,
    "model_type": "mistral", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": False,
    "torch_dtype": "bfloat16", "transformers_version": "4.34.0.dev0", "use_cache": True, "vocab_size": 32000}
MISTRAL_GENERATION = {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2,
                      "transformers_version": "4.34.0.dev0"}
# Depth and width only: 2 layers of width 64 (head dim 8; Mistral keeps 4 query heads per key-value
# head, as 32/8), and a sliding window shorter than the rehearsal's sequences, so that it acts.
SHRINK = {"llama": {"hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 2, "num_attention_heads": 8,
                    "num_key_value_heads": 8},
          "mistral": {"hidden_size": 64, "intermediate_size": 224, "num_hidden_layers": 2, "num_attention_heads": 8,
                      "num_key_value_heads": 2, "sliding_window": 64}}
# The files of each repository that the workflow must never download: pickled copies of the
# weights, Meta's and Mistral's original checkpoints, the tokenizer (a resource of its own), cards.
DECOYS = ("pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin", "consolidated.00.pth",
          "tokenizer.model")
STUDY_MODELS = {"NousResearch/Llama-2-7b-chat-hf": ("llama", False), "meta-llama/Llama-2-7b-hf": ("llama", True),
                "mistralai/Mistral-7B-Instruct-v0.1": ("mistral", True), "mistralai/Mistral-7B-v0.1": ("mistral", True)}


def model(root, repo: str, architecture: str, *, gated: bool, seed: int = 0) -> dict:
    """One model repository: the real configs (shrunk by SHRINK), random weights in the checkpoint's
    dtype as two safetensors shards with model.safetensors.index.json, and DECOYS beside them (a
    pickle that must not be read: loading it raises). Returns its config entry (models.<name>.weights)."""
    import torch
    import transformers
    from safetensors.torch import save_file

    real = LLAMA2_CONFIG if architecture == "llama" else MISTRAL_CONFIG
    generation = LLAMA2_GENERATION if architecture == "llama" else MISTRAL_GENERATION
    config = {**real, **SHRINK[architecture]}
    cls = {"llama": (transformers.LlamaConfig, transformers.LlamaForCausalLM),
           "mistral": (transformers.MistralConfig, transformers.MistralForCausalLM)}[architecture]
    torch.manual_seed(seed)
    weights = cls[1](cls[0](**{k: v for k, v in config.items() if k not in ("architectures", "torch_dtype",
                                                                              "transformers_version")}))
    dtype = getattr(torch, config["torch_dtype"])
    state = {k: v.detach().to(dtype).contiguous() for k, v in weights.state_dict().items()}
    names = sorted(state)
    shards = [[n for n in names if not n.startswith("lm_head")], [n for n in names if n.startswith("lm_head")]]
    index = {"metadata": {"total_size": sum(t.numel() * t.element_size() for t in state.values())}, "weight_map": {}}
    folder = revision_path(root, repo, repo_type="model")
    folder.mkdir(parents=True, exist_ok=True)
    for i, shard in enumerate(shards, 1):
        file = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: state[n] for n in shard}, str(folder / file), metadata={"format": "pt"})
        index["weight_map"].update({n: file for n in shard})
    add_file(root, repo, "model.safetensors.index.json", json.dumps(index, indent=2), repo_type="model")
    add_file(root, repo, "config.json", json.dumps(config, indent=2), repo_type="model")
    add_file(root, repo, "generation_config.json", json.dumps(generation, indent=2), repo_type="model")
    add_file(root, repo, "pytorch_model.bin.index.json",
             json.dumps({"metadata": index["metadata"], "weight_map": {n: DECOYS[0] for n in names}}), repo_type="model")
    for name in DECOYS:
        add_file(root, repo, name, b"\x80\x04decoy: never to be downloaded or unpickled", repo_type="model")
    add_file(root, repo, "README.md", "---\nlicense: other\n---\n", repo_type="model")
    if gated:
        set_gated(root, repo, repo_type="model")
    return {"source": "hub", "repo": repo, "revision": "main", "architecture": architecture}


# --------------------------------------------------------------------------------------------- the study
def squad(root, rows: list[dict]) -> dict:
    """rajpurkar/squad: Parquet under plain_text/, README `configs:` with train and validation;
    columns id, title, context, question, answers {text, answer_start}."""
    readme = ("---\nlicense: cc-by-sa-4.0\nconfigs:\n- config_name: plain_text\n  data_files:\n"
              "  - split: train\n    path: plain_text/train-*\n  - split: validation\n    path: plain_text/validation-*\n"
              "  default: true\n---\n# SQuAD\n")
    add_file(root, "rajpurkar/squad", "README.md", readme)
    for split in ("train", "validation"):
        add_parquet(root, "rajpurkar/squad", f"plain_text/{split}-00000-of-00001.parquet", _qa_columns(rows, title=True))
    return {"repo": "rajpurkar/squad", "revision": "main"}


def _qa_columns(rows: list[dict], *, title: bool = False) -> dict:
    columns = {"id": [r["id"] for r in rows]}
    if title:
        columns["title"] = [r["id"].rsplit("-", 1)[0] for r in rows]
    columns.update(context=[r["context"] for r in rows], question=[r["question"] for r in rows],
                   answers=[{"text": list(r["answers"]), "answer_start": [max(r["context"].find(a), 0) for a in r["answers"]]}
                            for r in rows])
    return columns


def _jsonl(path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def study(root, data) -> None:
    """Every repository config/paper.yaml names (datasets and models), from the workflow's embedded
    samples under `data` (data/ of the workflow), at row counts that let every scaled subset of
    config/rehearsal.yaml exist: 330 Samanantar pairs, 110 Guanaco conversations, 40 FLORES+
    sentences per split, 32 IndicQA, XL-Sum and SQuAD items."""
    from pathlib import Path

    data = Path(data)
    en = (data / "samanantar" / "en-te" / "train.en").read_text(encoding="utf-8").splitlines()
    te = (data / "samanantar" / "en-te" / "train.te").read_text(encoding="utf-8").splitlines()
    samanantar(root, {"idx": list(range(len(en))), "src": en, "tgt": te})
    texts = [r["text"] for r in _jsonl(data / "guanaco" / "guanaco.jsonl")]
    guanaco(root, texts[:100], texts[100:])
    pairs = _jsonl(data / "eval" / "translation.jsonl")
    flores_plus(root, {f"{config}": {split: [{"id": i, "text": p[lang]} for i, p in enumerate(pairs)]
                                     for split in ("dev", "devtest")}
                       for config, lang in (("eng_Latn", "en"), ("tel_Telu", "te"))})
    te_qa = _jsonl(data / "eval" / "te" / "qa.jsonl")
    script_only_with_export(root, "ai4bharat/IndicQA", "IndicQA.py", {"indicqa.te/test": _qa_columns(te_qa)})
    summaries = _jsonl(data / "eval" / "te" / "summarization.jsonl")
    script_only_with_export(root, "csebuetnlp/xlsum", "xlsum.py", {
        f"telugu/{split}": {"id": [r["id"] for r in summaries], "url": [f"https://www.bbc.com/telugu/{r['id']}" for r in summaries],
                            "title": [r["summary"][:40] for r in summaries], "summary": [r["summary"] for r in summaries],
                            "text": [r["document"] for r in summaries]} for split in ("train", "test")})
    squad(root, _jsonl(data / "eval" / "en" / "qa.jsonl"))
    for seed, (repo, (architecture, gated)) in enumerate(sorted(STUDY_MODELS.items())):
        model(root, repo, architecture, gated=gated, seed=seed)
