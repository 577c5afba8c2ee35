"""Stage 2, tokens: tokenizers as verified resources, and the fertility analysis of a language."""
