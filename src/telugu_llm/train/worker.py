"""One process of a data-parallel training run, started by torchrun (see `launch.launch`)."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from ..settings import from_dict
from .run import train
from .settings import RunSettings


def main(path: str) -> None:
    import torch

    logging.basicConfig(level=logging.INFO, format="%(asctime)s rank %(process)d %(levelname)s %(message)s")
    args = json.loads(Path(path).read_text())
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    train(settings=from_dict(RunSettings, args["settings"]), model_dir=Path(args["model_dir"]),
          tokenizer_dir=Path(args["tokenizer_dir"]), tokenized_dir=Path(args["tokenized_dir"]), out_dir=Path(args["out_dir"]),
          checkpoint_root=Path(args["checkpoint_root"]))


if __name__ == "__main__":
    main(sys.argv[1])
