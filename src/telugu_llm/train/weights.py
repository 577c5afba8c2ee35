"""Model weights as retrieved resources, always stored as safetensors.

Sources: a Hugging Face repository at a pinned revision (safetensors files only, no remote code,
the token only from HF_TOKEN), a local directory, a GGUF file inside pinned registry packages
(dequantized once by transformers and saved as safetensors: a GGUF-loaded model refuses
`save_pretrained`, so it is rebuilt from its config), or a random initialisation of a named
architecture and size (tests and benchmarks).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from ..atomic import atomic_directory, write_json
from ..errors import InputError
from ..hub import explain
from ..resources import SOURCE_JSON, fetch_file

log = logging.getLogger(__name__)

# Shapes for random initialisation. "tiny" exercises every code path in a second; "7b" is the
# study's shape (Llama-2-7B, Mistral-7B-v0.1) for benchmarks on a GPU.
RANDOM_SHAPES = {
    "llama": {
        "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=4, max_position_embeddings=1024),
        "7b": dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                   num_key_value_heads=32, max_position_embeddings=4096, rms_norm_eps=1e-5),
    },
    "mistral": {
        # a sliding window smaller than the test sequences, so that its code path runs
        "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, max_position_embeddings=1024, sliding_window=16),
        "7b": dict(hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
                   num_key_value_heads=8, max_position_embeddings=32768, sliding_window=4096, rms_norm_eps=1e-5),
    },
}


def _random_model(spec: dict, vocab_size: int, bos: int | None, eos: int | None, pad: int | None):
    import torch
    import transformers

    arch, size = spec["architecture"], spec["size"]
    if arch not in RANDOM_SHAPES:
        raise InputError(f"architecture {arch!r} is not one of {', '.join(RANDOM_SHAPES)}")
    if size not in RANDOM_SHAPES[arch]:
        raise InputError(f"size {size!r} of {arch} is not one of {', '.join(RANDOM_SHAPES[arch])}")
    config_cls = {"llama": transformers.LlamaConfig, "mistral": transformers.MistralConfig}[arch]
    config = config_cls(vocab_size=vocab_size, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad,
                        tie_word_embeddings=False, **RANDOM_SHAPES[arch][size])
    torch.manual_seed(spec["seed"])
    model = transformers.AutoModelForCausalLM.from_config(config)
    return model


def _from_gguf(path: Path):
    """Dequantize a GGUF file into an ordinary (saveable) transformers model."""
    import torch
    import transformers

    loaded = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = type(loaded)(config)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [m for m in missing if "lm_head" not in m]:
        raise InputError(f"{path.name}: weights do not match the architecture (missing {missing[:3]}, unexpected {unexpected[:3]})")
    if missing:  # a tied output layer (lm_head shares the embedding)
        model.tie_weights()
    return model


# What a model repository is downloaded for: the weights (safetensors only, never pickles), their
# index, the model's and its generation's configuration. Not its tokenizer (a resource of its own),
# nor code (trust_remote_code is off), nor .bin/.pt/.gguf copies of the weights.
HUB_MODEL_FILES = ["*.safetensors", "*.safetensors.index.json", "config.json", "generation_config.json"]


def build_model(name: str, spec: dict, out_dir: Path, tokenizer=None) -> dict:
    """Retrieve one model's weights into `out_dir` as safetensors, atomically. Returns source.json."""
    import transformers

    what = f"models.{name}.weights"
    source = spec["source"]
    with atomic_directory(Path(out_dir)) as tmp:
        digest = commit = None
        if source == "random":
            if tokenizer is None:
                raise InputError(f"{what}: a random model needs the model's tokenizer for its vocabulary")
            model = _random_model(spec, len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id,
                                  tokenizer.pad_token_id)
        elif spec["format"] == "gguf":
            raw = tmp / "_original" / "model.gguf"
            raw.parent.mkdir()
            digest = fetch_file(spec, raw, what)
            model = _from_gguf(raw)
            shutil.rmtree(raw.parent)
        elif source == "hub":
            from huggingface_hub import snapshot_download

            try:
                local = snapshot_download(spec["repo"], revision=spec["revision"], allow_patterns=HUB_MODEL_FILES)
            except Exception as exc:  # noqa: BLE001 - the hub client raises many types: one message says which
                raise explain(what, spec, exc, kind="model") from None
            commit = Path(local).name  # the snapshot folder is named by the commit the revision resolved to
            model = _load_safetensors_dir(Path(local), what)
        elif source == "local":
            model = _load_safetensors_dir(Path(spec["path"]), what)
        else:
            raise InputError(f"{what}.source: unknown source {source!r}; use hub, local, package (gguf) or random")
        expected = spec.get("architecture")
        if expected and model.config.model_type != expected and not (source == "random"):
            raise InputError(f"{what}: the weights are a {model.config.model_type} model, not {expected}")
        model.save_pretrained(tmp, safe_serialization=True)
        if isinstance(model, transformers.PreTrainedModel) and not list(tmp.glob("*.safetensors")):
            raise InputError(f"{what}: no safetensors written")
        meta = {"name": name, "spec": spec, "sha256": digest, "commit": commit if source == "hub" else None,
                "model_type": model.config.model_type,
                "architecture": type(model).__name__, "parameters": sum(p.numel() for p in model.parameters())}
        write_json(tmp / SOURCE_JSON, meta)
    return meta


def _load_safetensors_dir(path: Path, what: str):
    import transformers

    if not path.is_dir():
        raise InputError(f"{what}: directory {path} does not exist")
    if not list(path.glob("*.safetensors")):
        raise InputError(f"{what}: {path} has no .safetensors file (only safetensors weights are loaded, never pickles)")
    return transformers.AutoModelForCausalLM.from_pretrained(path, trust_remote_code=False, use_safetensors=True)
