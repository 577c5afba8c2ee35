"""Loading what training and evaluation share: the device, a tokenizer resource (with a pad token
distinct from EOS and a padding side), the 4-bit base model, the process's rank, peak memory and the
versions of the libraries that did the work."""

from __future__ import annotations

import functools
import os
import resource
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .provenance import cpu_name, installed_versions
from .resources import SOURCE_JSON


@dataclass
class Quantization:
    """models.<name>.quantization: 4-bit loading of the base model (QLoRA)."""

    load_in_4bit: bool
    quant_type: str
    compute_dtype: str
    double_quant: bool


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("train.device: cuda was asked for, but torch sees no GPU")
    return device


def device_name(device: str) -> str:
    import torch

    return torch.cuda.get_device_name(0) if device == "cuda" else cpu_name()


def open_tokenizer(resource_dir: str):
    """The transformers tokenizer of a tokenizer resource, a new object on every call (for a caller
    that changes it, e.g. its pad token)."""
    from transformers import AutoTokenizer

    path = Path(resource_dir)
    if not (path / SOURCE_JSON).is_file():
        raise InputError(f"{path} is not a tokenizer resource (no {SOURCE_JSON}); build it with the tokenizer rule")
    return AutoTokenizer.from_pretrained(path, trust_remote_code=False)


@functools.lru_cache(maxsize=8)
def load_tokenizer(resource_dir: str):
    """The transformers tokenizer of a tokenizer resource (cached per process: do not change it)."""
    return open_tokenizer(resource_dir)


def set_pad_token(tokenizer) -> None:
    """A pad token distinct from EOS (pitfall 1): the tokenizer's own, else its unknown token."""
    eos = tokenizer.eos_token_id
    if tokenizer.pad_token_id is not None and tokenizer.pad_token_id != eos:
        return
    if tokenizer.unk_token_id is not None and tokenizer.unk_token_id != eos:
        tokenizer.pad_token = tokenizer.unk_token
        return
    raise InputError(f"tokenizer {tokenizer.name_or_path} has no pad or unknown token distinct from EOS")


def padded_tokenizer(tokenizer_dir: Path, padding_side: str):
    """A private tokenizer (not the cached one) with a pad token distinct from EOS and the given
    padding side: right to train, left to generate (pitfall 2)."""
    tokenizer = open_tokenizer(str(tokenizer_dir))
    set_pad_token(tokenizer)
    tokenizer.padding_side = padding_side
    return tokenizer


def disable_avx512bf16_repacking(model) -> int:
    """Pitfall 5: on CPUs with AVX512-BF16 the first inference pass repacks 4-bit weights for a
    kernel without autograd, and every LoRA gradient is zero from then on. Always switch it off."""
    import bitsandbytes as bnb

    count = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False
            count += 1
    return count


def native_bfloat16(device: str) -> bool:
    """Whether `device` computes in bfloat16 natively: a GPU that supports it, or a CPU with
    AVX512-BF16 or AMX. Elsewhere a CPU emulates bfloat16, about 50 times slower than float32
    (README: measured on an AVX2 machine)."""
    import torch

    if device == "cuda":
        return torch.cuda.is_bf16_supported()
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def compute_dtype(quantization: Quantization, device: str) -> str:
    """The compute dtype a run uses: the configured one, or for `auto` bfloat16 where the device has
    it natively, else float16 on a GPU and float32 on a CPU (pitfall 4: bfloat16 where the hardware
    has it)."""
    if quantization.compute_dtype != "auto":
        return quantization.compute_dtype
    if native_bfloat16(device):
        return "bfloat16"
    return "float16" if device == "cuda" else "float32"


def load_quantized(model_dir: Path, quantization: Quantization, device: str, model: str):
    """The base model of a weights resource, in 4 bits where `quantization` says so, on `device`
    (this process's GPU under torchrun). `model` names the config entry in errors."""
    import torch
    import transformers

    dtype = getattr(torch, compute_dtype(quantization, device))
    kwargs = {"dtype": dtype if device == "cuda" or dtype != torch.float16 else torch.float32}
    if quantization.load_in_4bit:
        try:
            import bitsandbytes  # noqa: F401
        except Exception as exc:
            raise InputError(f"models.{model}.quantization.load_in_4bit: bitsandbytes cannot run here ({exc})") from exc
        kwargs["quantization_config"] = transformers.BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type=quantization.quant_type, bnb_4bit_compute_dtype=dtype,
            bnb_4bit_use_double_quant=quantization.double_quant)
    kwargs["device_map"] = {"": local_rank()} if device == "cuda" else {"": "cpu"}
    loaded = transformers.AutoModelForCausalLM.from_pretrained(model_dir, trust_remote_code=False,
                                                               use_safetensors=True, **kwargs)
    if quantization.load_in_4bit:
        disable_avx512bf16_repacking(loaded)
    return loaded


def token_nll(logits, labels):
    """The negative log-likelihood of each label, shaped as `labels` (0 where a label is -100, the
    ignore index of transformers' losses). The logits (rows, positions, vocabulary) are flattened to
    one row per position, the layout cross_entropy reads fastest: its (rows, vocabulary, positions)
    form took 3.6 times as long on a CPU over a 49k-word vocabulary (bench: 1.33 s against 0.37 s)."""
    import torch

    flat = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1),
                                             ignore_index=-100, reduction="none")
    return flat.view(labels.shape)


def local_rank() -> int:
    """This process's device index under torchrun (0 for a single process)."""
    return int(os.environ.get("LOCAL_RANK", 0))


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", 1))


def versions(*extra: str) -> dict[str, str]:
    """The versions of the libraries that load, train and run models (and `extra` ones)."""
    return installed_versions(("torch", "transformers", "peft", "trl", "bitsandbytes", "accelerate", "datasets",
                               *extra))


def peak_memory_bytes(device: str) -> int:
    import torch

    if device == "cuda":
        return int(torch.cuda.max_memory_allocated())
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
