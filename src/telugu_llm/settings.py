"""Settings dataclasses from config dicts. The stages' settings (train.settings, evaluation.settings,
loading.Quantization) carry the config's own key names and no defaults: the config, completed by
config/schema.yaml, has every value, and `from_dict` is the one way in."""

from __future__ import annotations

import copy
import dataclasses
import typing

from .errors import InputError

T = typing.TypeVar("T")


def from_dict(cls: type[T], values: dict, key: str = "") -> T:
    """A settings dataclass from a config dict with exactly its fields (nested dataclasses from
    nested dicts). The dataclasses have no defaults: the config, completed by the schema, has them."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    where = f"config key {key}" if key else cls.__name__
    missing = [n for n in names if n not in values]
    unknown = sorted(set(values) - set(names))
    if missing or unknown:
        raise InputError(f"{where}: " + "; ".join(
            ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else [])))
    kwargs = {}
    for name in names:
        value = values[name]
        if dataclasses.is_dataclass(hints[name]) and isinstance(value, dict):
            value = from_dict(hints[name], value, f"{key}.{name}" if key else name)
        elif isinstance(value, (list, dict)):
            value = copy.deepcopy(value)
        kwargs[name] = value
    return cls(**kwargs)


def field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]
