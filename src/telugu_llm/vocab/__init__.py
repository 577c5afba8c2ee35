"""The vocabulary stage: a tokenizer extended with pieces of the language learned from its training
text (`extend`), the text it learns from (`text`), the model rows of the new pieces (`embeddings`),
and the comparison of base and extended tokenizers side by side (`compare`)."""
