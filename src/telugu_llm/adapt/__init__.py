"""The adaptation stage: continued pretraining of a model (extended or not) on text in the language,
before instruction tuning (issue 23)."""
