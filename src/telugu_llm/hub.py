"""What the Hugging Face hub sources have in common: the error a user sees when one cannot be read.

The token, where one is needed, is read from the HF_TOKEN environment variable by huggingface_hub
itself; it is never passed, logged or written by this package."""

from __future__ import annotations

from collections import Counter

from .errors import InputError


def hub_error(key: str, repo: str, revision: str, exc: Exception) -> InputError:
    """One message naming the config key, the repository and what went wrong."""
    return InputError(
        f"{key}.source is hub, but the dataset {repo}@{revision} could not be read: "
        f"{type(exc).__name__}: {exc}. Check the network, {key}.hub.repo/revision and HF_TOKEN, "
        f"or use {key}.source embedded or local"
    )


def read_rows(key: str, repo: str, config: str | None, split: str, revision: str) -> list[dict]:
    """Every row of one configuration and split of a hub dataset (small sets: FLORES+, evaluation sets)."""
    import datasets  # imported here: only the hub sources need it

    try:
        return list(datasets.load_dataset(repo, config, split=split, revision=revision))
    except Exception as exc:  # noqa: BLE001 - any failure to reach or read the hub is one message
        raise hub_error(key, repo, revision, exc) from None


def join_on(key: str, src_rows: list[dict], tgt_rows: list[dict], column: str) -> tuple[list[tuple[dict, dict]], dict]:
    """Rows of two configurations paired by the value of `column` (in the order of `src_rows`), and
    the ids found on one side only, counted: a corpus stored one language per configuration can
    differ in its rows, and pairing by position would silently misalign them."""
    for side, rows in (("source", src_rows), ("target", tgt_rows)):
        if rows and column not in rows[0]:
            raise InputError(f"{key}.key: the {side} rows have no column {column!r} (columns: {', '.join(rows[0])})")
    for side, rows in (("source", src_rows), ("target", tgt_rows)):
        counts = Counter(row[column] for row in rows)
        if len(counts) != len(rows):
            repeated = sorted((i for i, n in counts.items() if n > 1), key=str)[:3]
            raise InputError(f"{key}.key: {column!r} is not unique on the {side} side (e.g. {repeated}); "
                             "rows cannot be paired on it")
    by_id = {row[column]: row for row in tgt_rows}
    src_ids = {row[column] for row in src_rows}
    pairs = [(row, by_id[row[column]]) for row in src_rows if row[column] in by_id]
    unmatched = {"source_only": len(src_ids - set(by_id)), "target_only": len(set(by_id) - src_ids)}
    return pairs, unmatched
