"""Secrets out of every message and log line the workflow writes: the value of HF_TOKEN (and of the
hub client's other token variables), any hub token (`hf_` and 30 or more letters and digits), and the
credentials of an `Authorization` header or a bearer token. A hub that echoes the request's headers in
its error (some proxies and servers do) would otherwise put the token into a job's log."""

from __future__ import annotations

import os
import re

REDACTED = "[redacted]"
TOKEN_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_TOKEN")
_PATTERNS = [
    (re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token)\s+)?[^\s\"',;}]+"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b(bearer\s+)[^\s\"',;}]+"), rf"\1{REDACTED}"),
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), REDACTED),
]


def redact(text: str) -> str:
    """`text` with every secret replaced by [redacted]."""
    for name in TOKEN_VARIABLES:
        value = os.environ.get(name, "").strip()
        if len(value) >= 8:  # a value that short is no token, and would blank ordinary words
            text = text.replace(value, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
