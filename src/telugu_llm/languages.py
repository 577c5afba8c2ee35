"""The languages of Samanantar and the Unicode scripts they are written in.

Script blocks follow the Unicode standard. Samanantar pairs English with 11 Indic languages
(Ramesh et al. 2022); Assamese is written in the Bengali–Assamese block and Marathi in Devanagari.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class Script:
    name: str
    ranges: tuple[tuple[int, int], ...]

    @property
    def regex_class(self) -> str:
        """An RE2 character class (for pyarrow.compute) matching any code point of the script."""
        return "[" + "".join(f"\\x{{{lo:04X}}}-\\x{{{hi:04X}}}" for lo, hi in self.ranges) + "]"

    @property
    def python_regex(self) -> re.Pattern:
        """A compiled Python pattern matching any code point of the script."""
        return re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in self.ranges) + "]")

    def contains(self, char: str) -> bool:
        cp = ord(char)
        return any(lo <= cp <= hi for lo, hi in self.ranges)


SCRIPTS: dict[str, Script] = {
    s.name: s
    for s in (
        Script("Latin", ((0x0041, 0x005A), (0x0061, 0x007A), (0x00C0, 0x024F), (0x1E00, 0x1EFF))),
        Script("Devanagari", ((0x0900, 0x097F), (0xA8E0, 0xA8FF))),
        Script("Bengali", ((0x0980, 0x09FF),)),
        Script("Gurmukhi", ((0x0A00, 0x0A7F),)),
        Script("Gujarati", ((0x0A80, 0x0AFF),)),
        Script("Oriya", ((0x0B00, 0x0B7F),)),
        Script("Tamil", ((0x0B80, 0x0BFF),)),
        Script("Telugu", ((0x0C00, 0x0C7F),)),
        Script("Kannada", ((0x0C80, 0x0CFF),)),
        Script("Malayalam", ((0x0D00, 0x0D7F),)),
        Script("Sinhala", ((0x0D80, 0x0DFF),)),
        Script("Thai", ((0x0E00, 0x0E7F),)),
        Script("Greek", ((0x0370, 0x03FF),)),
        Script("Cyrillic", ((0x0400, 0x04FF),)),
        Script("Hebrew", ((0x0590, 0x05FF),)),
        Script("Arabic", ((0x0600, 0x06FF), (0x0750, 0x077F))),
        Script("Hangul", ((0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F))),
        Script("Kana", ((0x3040, 0x30FF),)),
        Script("Han", ((0x4E00, 0x9FFF), (0x3400, 0x4DBF))),
    )
}

# Samanantar's 11 languages (ISO 639-1) -> (English name, script)
SAMANANTAR_LANGUAGES: dict[str, tuple[str, str]] = {
    "as": ("Assamese", "Bengali"),
    "bn": ("Bengali", "Bengali"),
    "gu": ("Gujarati", "Gujarati"),
    "hi": ("Hindi", "Devanagari"),
    "kn": ("Kannada", "Kannada"),
    "ml": ("Malayalam", "Malayalam"),
    "mr": ("Marathi", "Devanagari"),
    "or": ("Odia", "Oriya"),
    "pa": ("Punjabi", "Gurmukhi"),
    "ta": ("Tamil", "Tamil"),
    "te": ("Telugu", "Telugu"),
}


# Language names as an instruction in that language writes them (translation prompts, evaluation sets)
LANGUAGE_NAMES = {
    "en": {"en": "English", **{code: name for code, (name, _) in SAMANANTAR_LANGUAGES.items()}},
    "te": {"en": "ఆంగ్లం", "te": "తెలుగు", "hi": "హిందీ", "ta": "తమిళం", "kn": "కన్నడ", "ml": "మలయాళం",
           "bn": "బెంగాలీ", "gu": "గుజరాతీ", "mr": "మరాఠీ", "or": "ఒడియా", "pa": "పంజాబీ", "as": "అస్సామీ"},
}


def script_of_language(lang: str) -> Script:
    return SCRIPTS[SAMANANTAR_LANGUAGES[lang][1]]


def _block_table() -> list[tuple[int, int, str]]:
    return sorted((lo, hi, s.name) for s in SCRIPTS.values() for lo, hi in s.ranges)


_BLOCKS = _block_table()


def script_of_char(char: str) -> str | None:
    cp = ord(char)
    for lo, hi, name in _BLOCKS:
        if cp < lo:
            return None
        if cp <= hi:
            return name
    return None


def script_counts(text: str) -> Counter:
    """Code points per script, counting only code points of a known script (letters and signs)."""
    counts: Counter = Counter()
    for ch in text:
        if ch.isascii() and not ch.isalpha():
            continue
        name = script_of_char(ch)
        if name is not None:
            counts[name] += 1
    return counts


def dominant_script(text: str) -> str:
    """The script with the most code points in `text`; "None" when it has no letters of a known script.

    Ties are broken by name so that the result is deterministic."""
    counts = script_counts(text)
    if not counts:
        return "None"
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
