"""Stage 3, prompts: the prompt formats (the study's templates, chat templates), the formatted training
data, and the cost of each template in tokens."""
