"""Reproducible study of QLoRA fine-tuned LLMs in Telugu: the logic behind the Snakemake workflow."""

__version__ = "0.1.0"
