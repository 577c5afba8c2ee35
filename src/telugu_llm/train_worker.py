"""One process of a data-parallel training run, started by torchrun (see `training.launch`)."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import fields
from pathlib import Path

from .training import LoraSettings, QuantSettings, RunSettings, TrainSettings, train


def settings_from_dict(d: dict) -> RunSettings:
    plain = {f.name: d[f.name] for f in fields(RunSettings) if f.name not in ("lora", "quant", "train")}
    return RunSettings(**plain, lora=LoraSettings(**d["lora"]), quant=QuantSettings(**d["quant"]),
                       train=TrainSettings(**d["train"]))


def main(path: str) -> None:
    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s rank %(process)d %(levelname)s %(message)s")
    args = json.loads(Path(path).read_text())
    torch.set_num_threads(int(__import__("os").environ.get("OMP_NUM_THREADS", "1")))
    train(settings=settings_from_dict(args["settings"]), model_dir=Path(args["model_dir"]),
          tokenizer_dir=Path(args["tokenizer_dir"]), prompts_dir=Path(args["prompts_dir"]), out_dir=Path(args["out_dir"]),
          checkpoint_root=Path(args["checkpoint_root"]))


if __name__ == "__main__":
    main(sys.argv[1])
