"""The model side of an extended vocabulary: the embedding (and untied output) rows of the new
pieces, made before LoRA is added, in training and in evaluation alike.

Each new row is the mean of the base rows of the pieces the base tokenizer spells the new piece
with (`extend.base_splits`): the initialisation of Hewitt (2021, "Initializing new word embeddings
for pretrained language models"), which keeps a new piece's logit near the average of its parts'
and so the model's distribution nearly where it was, used for Indic extensions (e.g. Tamil-LLaMA,
Balachandran 2023). Only these rows are trained (peft's `trainable_token_indices`); every base row
stays as it was. The rows are deterministic, so an evaluation rebuilds them exactly before the
adapter's trained values are loaded over them."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError
from ..resources import SOURCE_JSON

EXTENSION_JSON = "extension.json"  # beside an extended tokenizer: its new ids and their base spellings
PADDING_ALLOWANCE = 1024  # rows beyond the tokenizer's ids that a checkpoint may carry as padding


def read_extension(tokenizer_dir: Path) -> dict | None:
    """The extension of a tokenizer resource ({first_new_id, new_ids, base_splits, ...}), or None for
    a tokenizer that was not extended by the vocabulary stage."""
    path = Path(tokenizer_dir) / EXTENSION_JSON
    return json.loads(path.read_text()) if path.is_file() else None


def tokenizer_size(tokenizer_dir: Path) -> int:
    return json.loads((Path(tokenizer_dir) / SOURCE_JSON).read_text())["vocab_size"]


def check_rows(rows: int, size: int, extension: dict | None, *, model: str, tokenizer: str) -> None:
    """One error naming models.<model>.tokenizer where tokenizer and weights disagree: a tokenizer
    with ids the weights have no row for that the vocabulary stage did not extend (extended without
    resizing), or weights with far more rows than the tokenizer has ids (weights resized for a
    vocabulary the tokenizer lacks)."""
    key = f"models.{model}.tokenizer"
    if extension is None and size > rows:
        raise InputError(f"{key}: tokenizer {tokenizer} has {size} ids but the weights of {model} have {rows} "
                         "embedding rows: a tokenizer extended without resizing the model. Extend it with "
                         f"vocab.extend.{model}, which resizes the model and initialises the new rows")
    base = extension["first_new_id"] if extension else size
    if rows > base + PADDING_ALLOWANCE:
        raise InputError(f"{key}: the weights of {model} have {rows} embedding rows but tokenizer {tokenizer} has "
                         f"{base} base ids: weights resized for a larger vocabulary than the tokenizer's. Use the "
                         "tokenizer those weights were trained with")


def is_adapted(model_dir: Path) -> bool:
    """Whether a weights folder is the adaptation stage's (adapt.run): its new rows exist already,
    trained, and are kept (`extend_model(rows_ready=True)`)."""
    path = Path(model_dir) / SOURCE_JSON
    return path.is_file() and "adaptation" in json.loads(path.read_text())


def _module_name(model, module) -> str:
    return next(name for name, m in model.named_modules() if m is module).rsplit(".", 1)[-1]


def tied(model) -> bool:
    output = model.get_output_embeddings()
    return output is not None and output.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


def mean_parts(extension: dict) -> list[list[tuple[int, float]]]:
    """Each new row's base rows and weights under the mean initialisation (see the module): the base
    spelling's rows, equally weighted (a row spelled twice counts twice)."""
    return [[(i, 1 / len(split)) for i in split] for split in extension["base_splits"]]


def extend_model(model, extension: dict | None, size: int, *, model_name: str, tokenizer: str,
                 parts: list[list[tuple[int, float]]] | None = None, rows_ready: bool = False) -> dict | None:
    """Resize `model` to an extended tokenizer and initialise the new rows (see the module); return
    peft's `trainable_token_indices` for them (input rows, and output rows where untied), or None
    for a tokenizer that was not extended (after checking the sizes agree). `parts`: each new row as
    a weighted sum of base rows (default `mean_parts`; the adaptation stage's other initialisations,
    adapt.init); `rows_ready`: weights whose new rows exist already (an adapted model,
    adapt.run), which are kept as they are."""
    import torch

    rows = model.get_input_embeddings().weight.shape[0]
    if not rows_ready:
        check_rows(rows, size, extension, model=model_name, tokenizer=tokenizer)
    if extension is None:
        return None
    new_ids = list(range(extension["first_new_id"], extension["first_new_id"] + len(extension["base_splits"])))
    if new_ids[-1] + 1 != size:
        raise InputError(f"models.{model_name}.tokenizer: {tokenizer} has {size} ids but its extension ends at id "
                         f"{new_ids[-1]}: the resource is damaged; rebuild it")
    was_tied = tied(model)
    if rows_ready:
        if rows < size:
            raise InputError(f"models.{model_name}.tokenizer: the adapted weights have {rows} embedding rows but "
                             f"{tokenizer} has {size} ids: adapt the model with the tokenizer it is used with")
    else:
        # rows past the tokenizer's ids (a checkpoint's padding) are kept; the new pieces may take them
        model.resize_token_embeddings(max(rows, size), mean_resizing=False)
        matrices = [model.get_input_embeddings().weight]
        if not was_tied:
            matrices.append(model.get_output_embeddings().weight)
        parts = mean_parts(extension) if parts is None else parts
        if len(parts) != len(new_ids):
            raise ValueError(f"{len(parts)} initialisations for {len(new_ids)} new rows")
        with torch.no_grad():
            for weight in matrices:
                for new_id, row_parts in zip(new_ids, parts):
                    ids = [i for i, _ in row_parts]
                    w = torch.tensor([w for _, w in row_parts], dtype=torch.float32)
                    weight[new_id] = (w[:, None] * weight[ids].float()).sum(dim=0).to(weight.dtype)
    indices = {_module_name(model, model.get_input_embeddings()): new_ids}
    if not was_tied:
        indices[_module_name(model, model.get_output_embeddings())] = new_ids
    return indices


def check_adapter_rows(adapter_dir: Path, new_rows: dict | None, *, model: str) -> None:
    """An adapter trained with new rows loads only onto the tokenizer it was trained with: one error
    naming models.<model>.tokenizer where the adapter's trained rows and the tokenizer's new ids differ."""
    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text())
    trained = config.get("trainable_token_indices") or None
    ids = lambda value: sorted(set(value if isinstance(value, list) else sum(value.values(), [])))  # noqa: E731
    if (trained is None) != (new_rows is None) or (trained and ids(trained) != ids(new_rows)):
        def what(value):
            return f"new rows {ids(value)[0]}-{ids(value)[-1]}" if value else "no new rows"

        raise InputError(f"models.{model}.tokenizer: the adapter {adapter_dir} was trained with {what(trained)} but the "
                         f"tokenizer has {what(new_rows)}: evaluate an adapter with the tokenizer it was trained with")


def merge_new_rows(model) -> int:
    """Write an adapter's trained new rows into the embedding (and output) matrices, for inference.
    Unmerged, peft rebuilds each whole matrix with the rows copied in on every forward pass: a copy
    of the embedding per generated token, which made generation slower than with the base tokenizer
    (SmolLM2: 7.7 against 11.4 generated tokens/s). The matrices are not quantized, so the merge is
    exact. Returns the number of layers merged."""
    from peft.tuners.trainable_tokens.layer import TrainableTokensLayer

    layers = [m for m in model.modules() if isinstance(m, TrainableTokensLayer)]
    for layer in layers:
        layer.merge()
    return len(layers)
