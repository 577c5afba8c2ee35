"""Stage 1, data: Samanantar and OpenAssistant-Guanaco to cleaned, split, deduplicated Parquet shards;
nested subsets; the data summary."""
