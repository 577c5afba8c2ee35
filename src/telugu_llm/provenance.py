"""Versions of the installed packages, for metrics and the report."""

from __future__ import annotations

from importlib import metadata


def installed_versions(names) -> dict[str, str]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out
