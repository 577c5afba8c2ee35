"""One process of a training run, started by `launch.launch` (through torchrun for several)."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from ..errors import InputError
from ..settings import from_dict
from .launch import INPUT_ERROR, INPUT_ERROR_STATUS
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
    try:
        main(sys.argv[1])
    except InputError as error:  # bad input: its message on one line for the launcher, no traceback
        print(INPUT_ERROR + " ".join(str(error).split()), file=sys.stderr, flush=True)
        sys.exit(INPUT_ERROR_STATUS)
