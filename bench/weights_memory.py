"""Peak host memory of the model_weights job (train/weights.py: build_model) for a Llama-shaped
model stored as sharded fp16 safetensors, as the hub serves Llama-2-7B and Mistral-7B, at a size
that fits this machine; the rule's mem_mb scales the measured bytes per parameter to 7B.

    .venv/bin/python bench/weights_memory.py [--hidden 2048 --layers 12] [--out bench/out/weights_memory.json]

Each measurement runs build_model(source local) in a fresh process under /usr/bin/time -v.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BUILD = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from telugu_llm.train.weights import build_model
meta = build_model("m", {"source": "local", "path": sys.argv[1], "format": "safetensors", "architecture": "llama"}, Path(sys.argv[2]))
print("PARAMS", meta["parameters"])
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--intermediate", type=int, default=5504)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--shard", default="1GB", help="shard size of the stored weights (Llama-2-7B on the hub: 2 shards)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "weights_memory.json")
    args = ap.parse_args()
    import torch
    import transformers

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        config = transformers.LlamaConfig(vocab_size=32000, hidden_size=args.hidden, intermediate_size=args.intermediate,
                                          num_hidden_layers=args.layers, num_attention_heads=args.hidden // 128,
                                          num_key_value_heads=args.hidden // 128, tie_word_embeddings=False)
        model = transformers.AutoModelForCausalLM.from_config(config).to(torch.float16)
        params = sum(p.numel() for p in model.parameters())
        model.save_pretrained(src, max_shard_size=args.shard)
        del model
        proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", BUILD, str(src), str(Path(tmp) / "out"),
                               str(REPO / "src")], capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-3000:])
        peak_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
        shards = sorted(p.name for p in src.glob("*.safetensors"))
        baseline = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", "import transformers, torch"],
                                  capture_output=True, text=True)
        base_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", baseline.stderr).group(1))
    result = {"parameters": params, "fp16_bytes": 2 * params, "stored_shards": len(shards),
              "peak_rss_mib": round(peak_kib / 1024), "imports_rss_mib": round(base_kib / 1024),
              "bytes_per_parameter": round((peak_kib - base_kib) * 1024 / params, 2)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| parameters | fp16 GB | shards | peak RSS MiB | imports MiB | bytes/parameter |")
    print("|---|---|---|---|---|---|")
    print(f"| {params:,} | {2 * params / 1e9:.2f} | {len(shards)} | {result['peak_rss_mib']:,} | "
          f"{result['imports_rss_mib']} | {result['bytes_per_parameter']} |")


if __name__ == "__main__":
    main()
