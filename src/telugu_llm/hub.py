"""What the Hugging Face hub sources have in common: the error a user sees when one cannot be read.

The token, where one is needed, is read from the HF_TOKEN environment variable by huggingface_hub
itself; it is never passed, logged or written by this package."""

from __future__ import annotations

from .errors import InputError


def hub_error(key: str, repo: str, revision: str, exc: Exception) -> InputError:
    """One message naming the config key, the repository and what went wrong."""
    return InputError(
        f"{key}.source is hub, but the dataset {repo}@{revision} could not be read: "
        f"{type(exc).__name__}: {exc}. Check the network, {key}.hub.repo/revision and HF_TOKEN, "
        f"or use {key}.source embedded or local"
    )
