"""The evaluation tasks: the fields of their records, the placeholders of their instructions, and
the metric that leads each.

The vocabulary that the config (evaluation.hub, evaluation.instructions) and the evaluation sets
share, defined once."""

TASKS = ("completion", "qa", "summarization", "translation", "open_qa", "safety")
EMBEDDED_TASKS = ("completion", "qa", "summarization")
# The fields each task's records need (the embedded format; hub sets map their columns to these).
FIELDS = {
    "completion": ("text", "reference"),
    "qa": ("context", "question", "answers"),
    "summarization": ("document", "summary"),
    "translation": ("source", "reference"),
}
# The metric that leads each task in tables, figures and findings.
HEADLINE = {"translation": "chrf++", "summarization": "rouge_l", "qa": "f1", "completion": "chrf++"}
# The placeholders of each task's instruction (evaluation.instructions).
PLACEHOLDERS = {"completion": ("text",), "qa": ("context", "question"), "summarization": ("document",),
                "translation": ("source", "target", "sentence")}
