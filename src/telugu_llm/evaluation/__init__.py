"""Stage 5, evaluation: the sets, generation, metrics, one run per (model, adapter), and the summary
with intervals."""
