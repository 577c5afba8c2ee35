"""What a long run needs from its trainer besides training: to stop at a loss that is not a number,
and to checkpoint by the clock rather than by a step count fixed before its length was known."""

from __future__ import annotations

import math
import time

from transformers import TrainerCallback


class NonFiniteLoss(RuntimeError):
    """A training or validation loss that is NaN or infinite: the run cannot recover from it."""


class StopOnNonFiniteLoss(TrainerCallback):
    """Ends the run at the first logged loss that is not finite, naming the step and the likely cause
    (pitfall 4: 4-bit weights with float16 compute, notably on Mistral), instead of training on for
    hours and saving adapters of NaN. The last checkpoint before it stays for inspection."""

    def __init__(self, compute_dtype: str):
        self.compute_dtype = compute_dtype

    def on_log(self, args, state, control, logs=None, **kwargs):
        for key in ("loss", "eval_loss"):
            value = (logs or {}).get(key)
            if value is not None and not math.isfinite(value):
                hint = (" Float16 compute with 4-bit weights is known to give NaN losses (pitfall 4): prefer "
                        "bfloat16 (recipe compute_dtype: prefer_bfloat16) where the GPU has it."
                        if self.compute_dtype == "float16" else "")
                raise NonFiniteLoss(f"the {key.replace('_', ' ')} is {value} at step {state.global_step} "
                                    f"(compute dtype {self.compute_dtype}); the run is stopped.{hint}")


class SaveEvery(TrainerCallback):
    """A checkpoint whenever `minutes` have passed since the last one (or the start), decided at
    logging steps; under data parallelism rank 0's clock decides for every rank, so that all of them
    enter the save together. A run's cost in saves is then set by its wall time, not its length: a
    fixed step interval sized for a short run writes thousands of saves in a 1M-pair run, and one
    sized for a long run never saves a short one."""

    def __init__(self, minutes: float, decide=lambda due: due):
        self.seconds = minutes * 60
        self.decide = decide  # rank 0's value on every rank (run.broadcast_choice)
        self.last = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step % max(1, int(args.logging_steps)):
            return
        if self.decide(time.monotonic() - self.last >= self.seconds):
            control.should_save = True

    def on_save(self, args, state, control, **kwargs):
        self.last = time.monotonic()
