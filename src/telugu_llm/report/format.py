"""How numbers appear in the report's tables."""

from __future__ import annotations


def interval_cell(value, low, high) -> str:
    """A value and its interval, "v [low, high]", with one decimal from 10 on and three below."""
    if value != value:  # NaN
        return "–"
    digits = 1 if abs(value) >= 10 else 3
    if low != low:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def interval_text(level: str, low, high, spec: str = ".3f") -> str:
    """"95 % interval [low, high]" in the prose, or where there is none (NaN: too few items or
    examples to have one), "no interval (too few to compute one)", never "[nan, nan]"."""
    if low != low or high != high:
        return "no interval (too few to compute one)"
    return f"{level} interval [{low:{spec}}, {high:{spec}}]"


def number(value):
    """A table cell: floats to three decimals (one from 100 on), ints with thousands, NaN as a dash."""
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else value
