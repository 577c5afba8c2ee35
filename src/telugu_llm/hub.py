"""What the Hugging Face hub sources have in common: how a dataset is located (a repository, a
revision, and a configuration or a `data_dir`/`data_files` pattern), how it is read through the
pinned `datasets`, and the one error a user sees when it cannot be, saying what is wrong and which
config key to change.

The token, where one is needed, is read from the HF_TOKEN environment variable by huggingface_hub
itself; it is never passed, logged or written by this package."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import islice

from .errors import InputError
from .redact import redact

# The hub's automatic Parquet export of a repository (`<config>/<split>/0000.parquet`, no README):
# the way into a repository that holds only a loading script, which datasets >= 4 no longer runs.
PARQUET_EXPORT = "refs/convert/parquet"

_SCRIPT = re.compile(r"Dataset scripts are no longer supported, but found (\S+?)\.?$", re.M)
_CONFIG = re.compile(r"BuilderConfig '(.*?)' not found\. Available: (\[.*?\])")
_SPLIT = re.compile(r"Unknown split \"(.*?)\"\. Should be one of (\[.*?\])|Bad split: (.*?)\. Available splits: (\[.*?\])")
_NETWORK = ("ConnectError", "ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "TimeoutException",
            "OfflineModeIsEnabled", "LocalEntryNotFoundError", "gaierror", "NameResolutionError", "MaxRetryError")


def endpoint() -> str:
    import huggingface_hub

    return huggingface_hub.constants.ENDPOINT


def reachable(timeout: float = 10.0) -> bool:
    """Whether the hub answers at all (any HTTP status counts: only an answer is asked for)."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(urllib.request.Request(f"{endpoint()}/", method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False
    return True


def page(repo: str, kind: str = "dataset") -> str:
    """The repository's page on the hub (where a gated repository's licence is accepted)."""
    return f"{endpoint()}/{'datasets/' if kind == 'dataset' else ''}{repo}"


def describe(spec: dict) -> str:
    """`repo@revision` and what of it is read (its configuration, folder or files)."""
    where = [f"{k} {spec[k]!r}" for k in ("config", "data_dir", "data_files") if spec.get(k)]
    return f"{spec['repo']}@{spec['revision']}" + (f" ({', '.join(where)})" if where else "")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def explain(key: str, spec: dict, exc: BaseException, split: str | None = None, kind: str = "dataset") -> InputError:
    """The one error for a hub dataset (or, with kind "model", a model repository) that could not be
    read: what is wrong, in words a user can act on, naming the config key (`key` is the section,
    e.g. evaluation.hub[1]). Secrets that the hub's answer echoes are redacted."""
    return InputError(redact(str(_explain(key, spec, exc, split, kind))))


def _explain(key: str, spec: dict, exc: BaseException, split: str | None, kind: str) -> InputError:
    text = "\n".join(f"{type(e).__name__}: {e}" for e in _causes(exc))
    names = {type(e).__name__ for e in _causes(exc)}
    repo, revision = spec["repo"], spec["revision"]
    if m := _SCRIPT.search(text):
        return InputError(
            f"{key}: {repo}@{revision} has only a loading script ({m.group(1)}), which the pinned datasets no "
            f"longer runs. Read the hub's Parquet export of it instead: {key}.revision: {PARQUET_EXPORT} and "
            f"{key}.data_dir: <configuration> (the export is laid out <configuration>/<split>/0000.parquet)")
    if "GatedRepoError" in names or re.search(r"is a gated dataset|gated repo|ask for access", text, re.I):
        return InputError(
            f"{key}.repo: {repo} is gated. Accept its licence at {page(repo, kind)} with your hub "
            f"account, then export HF_TOKEN (a read token of that account) and run again")
    if m := _CONFIG.search(text):
        hint = ""
        if m.group(2) == "['default']" and revision == PARQUET_EXPORT:
            hint = (f"; a Parquet export has no README, so its folders are not configurations: use {key}.data_dir: "
                    f"{m.group(1)} and {key}.config: null")
        return InputError(f"{key}.config: {repo}@{revision} has no configuration {m.group(1)!r}; it has {m.group(2)}{hint}")
    if m := _SPLIT.search(text):
        wanted, available = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(3), m.group(4))
        return InputError(f"{key}.split: {describe(spec)} has no split {wanted or split!r}; it has {available}")
    network = names & set(_NETWORK)
    if network or not reachable():
        # datasets hides an unreachable hub behind other errors (that the repository does not exist,
        # or that fsspec's HTTP file system is not installed): asked directly, the hub does not answer
        cause = f"{type(exc).__name__}: {exc}" if network else f"no answer from {endpoint()}/"
        return InputError(f"{key}: the hub ({endpoint()}) could not be reached to read {describe(spec)} ({cause}). "
                          "Check the network (and HF_ENDPOINT, HF_HUB_OFFLINE), or use a local copy")
    if "RevisionNotFoundError" in names or re.search(r"Revision '.*?' doesn't exist", text):
        return InputError(f"{key}.revision: {repo} has no revision {revision!r} (a branch, tag or commit hash)")
    if "RepositoryNotFoundError" in names or "doesn't exist on the Hub" in text:
        return InputError(f"{key}.repo: no {kind} {repo!r} on the hub ({endpoint()}), or it is private "
                          "(export HF_TOKEN of an account that can read it)")
    return InputError(f"{key}: {describe(spec)} could not be read: {type(exc).__name__}: {exc}")


def load(key: str, spec: dict, split: str, *, streaming: bool = True):
    """One split of a hub dataset located by `spec` (repo, revision, and config or data_dir /
    data_files), through datasets.load_dataset; any failure is `explain`ed."""
    import datasets  # imported here: only the hub sources need it

    kwargs = {k: spec[k] for k in ("data_dir", "data_files") if spec.get(k)}
    try:
        return datasets.load_dataset(spec["repo"], spec.get("config"), split=split, streaming=streaming,
                                     revision=spec["revision"], **kwargs)
    except Exception as exc:  # noqa: BLE001 - every failure to reach or read the hub is one message
        raise explain(key, spec, exc, split) from None


def commit(key: str, spec: dict, kind: str = "dataset") -> str:
    """The commit that `spec`'s revision resolves to now (a branch such as main or
    refs/convert/parquet moves; the commit is what a run read), for provenance."""
    import huggingface_hub

    try:
        info = huggingface_hub.HfApi().repo_info(spec["repo"], revision=spec["revision"], repo_type=kind)
    except Exception as exc:  # noqa: BLE001
        raise explain(key, spec, exc, kind=kind) from None
    return info.sha


def explained(key: str, spec: dict, split: str, iterator: Iterator, columns: Iterable[str] = ()) -> Iterator:
    """`iterator` (rows or batches of a loaded split), with a failure while streaming (a gated file,
    the network) `explain`ed, and a missing column named, with those that exist, at the first item."""
    first = True
    while True:
        try:
            item = next(iterator)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001
            raise explain(key, spec, exc, split) from None
        if first:
            check_columns(key, spec, item, columns)
            first = False
        yield item


def rows(key: str, spec: dict, split: str, *, limit: int | None = None, columns: Iterable[str] = ()) -> Iterator[dict]:
    """The rows of one split (at most `limit`), streamed; see `explained`."""
    return islice(explained(key, spec, split, iter(load(key, spec, split)), columns), limit)


def check_columns(key: str, spec: dict, row: dict, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c.split(".")[0] not in row]
    if missing:
        raise InputError(f"{key}: {describe(spec)} has no column {missing[0]!r}; its columns are {', '.join(row)}")


def read_rows(key: str, spec: dict, split: str, columns: Iterable[str] = ()) -> list[dict]:
    """Every row of one split of a small hub dataset (FLORES+, evaluation sets)."""
    return list(rows(key, spec, split, columns=columns))


def join_on(key: str, src_rows: list[dict], tgt_rows: list[dict], column: str) -> tuple[list[tuple[dict, dict]], dict]:
    """Rows of two configurations paired by the value of `column` (in the order of `src_rows`), and
    the ids found on one side only (sorted): a corpus stored one language per configuration can
    differ in its rows, and pairing by position would silently misalign them."""
    for side, rows_ in (("source", src_rows), ("target", tgt_rows)):
        if rows_ and column not in rows_[0]:
            raise InputError(f"{key}.key: the {side} rows have no column {column!r} (columns: {', '.join(rows_[0])})")
    for side, rows_ in (("source", src_rows), ("target", tgt_rows)):
        counts = Counter(row[column] for row in rows_)
        if len(counts) != len(rows_):
            repeated = sorted((i for i, n in counts.items() if n > 1), key=str)[:3]
            raise InputError(f"{key}.key: {column!r} is not unique on the {side} side (e.g. {repeated}); "
                             "rows cannot be paired on it")
    by_id = {row[column]: row for row in tgt_rows}
    src_ids = {row[column] for row in src_rows}
    pairs = [(row, by_id[row[column]]) for row in src_rows if row[column] in by_id]
    unmatched = {"source_only": sorted(src_ids - set(by_id), key=str), "target_only": sorted(set(by_id) - src_ids, key=str)}
    return pairs, unmatched
